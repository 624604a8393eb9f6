// Runs before the page paints (not deferred), so a chosen theme never flashes the other one.
try {
  const theme = localStorage.getItem("webchat-theme");
  if (theme === "light" || theme === "dark") document.documentElement.dataset.theme = theme;
} catch {}
