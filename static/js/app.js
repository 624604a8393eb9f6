// webchat's own browser code: the little htmx does not do. Everything works without it except
// live streaming; it must stay small (the page budget is 30 KB gzipped in all).
(() => {
  "use strict";
  const $ = (selector, root = document) => root.querySelector(selector);
  const csrf = () => $('meta[name="csrf-token"]')?.content || "";

  // Every htmx request carries the session's CSRF token.
  document.addEventListener("htmx:config:request", (event) => {
    event.detail.ctx.request.headers["X-CSRF-Token"] = csrf();
  });

  // --- Following the stream: keep the newest text in view unless the reader scrolled up.
  let stick = true;
  const scroller = () => $("#scroller");
  const follow = () => {
    const s = scroller();
    if (s && stick) s.scrollTop = s.scrollHeight;
  };
  document.addEventListener("scroll", (event) => {
    const s = event.target;
    if (s && s.id === "scroller") stick = s.scrollHeight - s.scrollTop - s.clientHeight < 80;
  }, true);

  // A reply's socket URL says what the page showed when it was drawn (l, n). Once frames have
  // come that is old news, so a reconnect (a cut connection, a tab shown again) asks without it
  // and the server renders the reply anew, instead of sending again text the page has.
  document.addEventListener("htmx:ws:before:message:incoming", (event) => {
    const connection = event.detail.connection;
    if (connection && !connection.fresh) {
      connection.url = connection.url.replace(/\?.*$/, "");
      connection.fresh = true;
    }
  });

  // Token frames {"d": text} append plain text to the reply's tail: no HTML is parsed, so a
  // token can never inject markup. Every other frame is htmx's to swap.
  document.addEventListener("htmx:ws:before:message:incoming", (event) => {
    const data = event.detail.message.data;
    if (typeof data !== "string" || !data.startsWith('{"d":')) return;
    event.preventDefault();
    const tails = event.target.querySelectorAll(".tail");
    const tail = tails[tails.length - 1];
    if (tail) tail.append(JSON.parse(data).d);
    follow();
  });
  // The code stylesheet, linked when a code block first shows (most chats never need its 1.4 KB).
  const codeStyles = () => {
    if ($("#code-css") || !$(".md pre")) return;
    const link = document.createElement("link");
    link.rel = "stylesheet";
    link.id = "code-css";
    link.href = $('meta[name="code-css"]').content;
    document.head.append(link);
  };
  document.addEventListener("htmx:after:swap", () => {
    follow();
    addCodeCopyButtons();
    codeStyles();
    const box = $("#composer-text");
    if (box && box.value) grow(box);
  });
  document.addEventListener("htmx:ws:after:message:incoming", (event) => {
    follow();
    addCodeCopyButtons();
    codeStyles();
    // The final frame replaces the reply: tell screen readers the reply is complete. Its event
    // comes on the document (the socket's element is gone by then): the frame names the reply.
    const data = event.detail.message.data;
    if (typeof data === "string" && data.includes('"swap":"outerHTML"')) {
      // Messages waiting for this reply: the page asks for the conversation again, where the
      // next one is being answered now.
      const waiting = $("#queue .queued");
      if (waiting) htmx.ajax("GET", waiting.dataset.messages, { target: "#messages", swap: "innerHTML" });
      const named = /id="(turn-[\w-]+)"/.exec(JSON.parse(data).content || "");
      const reply = named && document.getElementById(named[1]);
      const announcer = $("#announcer");
      if (reply && announcer) {
        const text = [...reply.querySelectorAll(".md, .error-bubble")].map((e) => e.innerText).join(" ");
        announcer.textContent = "Reply complete: " + text.slice(0, 400);
      }
    }
  });

  // --- Copying: a whole message (its text as shown) or one code block.
  const copy = async (text, button) => {
    try {
      await navigator.clipboard.writeText(text);
      button.dataset.done = "1";
      setTimeout(() => delete button.dataset.done, 1500);
    } catch {
      button.title = "Copying is not allowed here";
    }
  };
  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-copy], button[data-copy-all], button[data-copy-from], button.copy-code");
    if (!button) return;
    if (button.matches("[data-copy-all]")) {
      const said = [...document.querySelectorAll("#messages .msg")].map((m) => {
        const text = [...m.querySelectorAll(":scope > .md")].map((e) => e.innerText.trim()).join("\n");
        return text && (m.classList.contains("user") ? "User: " : "Assistant: ") + text;
      });
      copy(said.filter(Boolean).join("\n\n"), button);
    } else if (button.dataset.copyFrom) {
      copy(document.getElementById(button.dataset.copyFrom).value, button);
    } else if (button.matches(".copy-code")) {
      copy(button.parentElement.querySelector("code").innerText.replace(/\n$/, ""), button);
    } else {
      const owner = button.closest(".input, .reply");
      const parts = [...owner.querySelectorAll(":scope > .msg .md")].map((e) => e.innerText.trim());
      copy(parts.join("\n\n"), button);
    }
  });
  const addCodeCopyButtons = () => {
    for (const pre of document.querySelectorAll(".reply:not(.streaming) .md pre:not([data-copyable])")) {
      pre.dataset.copyable = "1";
      const button = document.createElement("button");
      button.type = "button";
      button.className = "copy-code";
      button.textContent = "Copy";
      button.setAttribute("aria-label", "Copy code");
      pre.append(button);
    }
  };

  // A conversation's menu closes when the reader clicks anywhere else.
  document.addEventListener("click", (event) => {
    for (const menu of document.querySelectorAll(".conversation-menu[open]")) {
      if (!menu.contains(event.target)) menu.open = false;
    }
  });

  // --- Theme: follows the system until the reader picks one; remembered in this browser.
  document.addEventListener("click", (event) => {
    if (!event.target.closest("#theme-toggle")) return;
    const root = document.documentElement;
    const dark = root.dataset.theme
      ? root.dataset.theme === "dark"
      : matchMedia("(prefers-color-scheme: dark)").matches;
    root.dataset.theme = dark ? "light" : "dark";
    localStorage.setItem("webchat-theme", root.dataset.theme);
  });

  // --- The composer: Enter sends, Shift+Enter is a new line, the box grows with its text.
  const grow = (box) => {
    box.style.height = "auto";
    box.style.height = Math.min(box.scrollHeight, window.innerHeight * 0.4) + "px";
  };
  document.addEventListener("input", (event) => {
    if (event.target.id === "composer-text") grow(event.target);
    // A Gradio Slider shows its value next to its label.
    const shown = event.target.type === "range" && $(`output[for="${event.target.id}"]`);
    if (shown) shown.value = event.target.value;
  });
  document.addEventListener("keydown", (event) => {
    const box = event.target;
    if (box.id !== "composer-text" || event.key !== "Enter") return;
    if (event.shiftKey || event.isComposing || event.keyCode === 229) return;
    event.preventDefault();
    box.form.requestSubmit();
  });

  // After a message is accepted, empty the composer; after a refusal, keep the text as typed.
  document.addEventListener("htmx:after:request", (event) => {
    const form = event.target;
    if (form.id !== "composer") return;
    const ok = event.detail.ctx.response && event.detail.ctx.response.status < 400;
    if (!ok) return;
    const box = $("#composer-text", form);
    // An option button sent its own value: whatever was typed in the box stays there.
    if (event.detail.ctx.request?.submitter?.name === "option") {
      $("#empty")?.remove();
      return;
    }
    box.value = "";
    grow(box);
    $("#composer-status").replaceChildren();
    $("#empty")?.remove();
    stick = true;
  });

  // A failed request (network down, server gone) gets a message too.
  document.addEventListener("htmx:error", (event) => {
    const status = $("#composer-status");
    if (!status || event.detail.ctx?.response) return;
    const p = document.createElement("p");
    p.className = "composer-error";
    p.setAttribute("role", "alert");
    p.textContent = "Could not reach the server. Check the connection and try again.";
    status.replaceChildren(p);
  });

  // A Gradio program's demo.unload handlers run when the page is left (a beacon outlives it).
  addEventListener("pagehide", () => {
    const unload = $("[data-unload]");
    if (!unload) return;
    const data = new FormData();
    data.set("csrf_token", csrf());
    navigator.sendBeacon(unload.dataset.unload, data);
  });

  document.addEventListener("DOMContentLoaded", () => {
    const box = $("#composer-text");
    if (box) grow(box);
    follow();
    addCodeCopyButtons();
    codeStyles();
  });
})();
