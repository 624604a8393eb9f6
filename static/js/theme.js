// Runs before the page paints (not deferred), so a chosen theme never flashes the other one.
// It also marks the page as scripted: controls that need JavaScript (Copy, the theme switch) are
// hidden without it (app.css, .needs-js).
document.documentElement.classList.add("js");
try {
  const theme = localStorage.getItem("webchat-theme");
  if (theme === "light" || theme === "dark") document.documentElement.dataset.theme = theme;
} catch {}
