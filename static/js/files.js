// Attaching files to the composer: the paperclip (a label for the file input), dropping files on
// the composer and pasting an image. The file input itself holds the files, so the form sends
// them as it is, with htmx or without; this script only edits its list and shows it, with a
// remove button for each. Limits are checked here for a quick answer; the server checks again.
// Files undo gave back are drawn by the server first in the list ("kept", each with a hidden
// kept_files input that sends it again); removing one removes its input.
(() => {
  "use strict";
  const $ = (id) => document.getElementById(id);
  let attached = []; // the files to send, in order (the input's FileList mirrors it)
  let shownIn = null; // the list they are shown in (undo replaces it)
  const kept = () => [...($("composer-files")?.querySelectorAll(":scope > .kept") || [])];

  // As the server words sizes: "1023 bytes", "1.5 KB", "25 MB".
  const size = (n) => {
    if (n < 1024) return `${n} bytes`;
    const [value, unit] = n < 1048576 ? [n / 1024, "KB"] : n < 1073741824 ? [n / 1048576, "MB"] : [n / 1073741824, "GB"];
    return `${value.toFixed(1).replace(/\.0$/, "")} ${unit}`;
  };

  const say = (text) => {
    const status = $("composer-status");
    if (!status) return;
    if (!text) return status.replaceChildren();
    const p = document.createElement("p");
    p.className = "composer-error";
    p.setAttribute("role", "alert");
    p.textContent = text;
    status.replaceChildren(p);
  };

  const show = () => {
    const input = $("composer-file-input");
    const list = $("composer-files");
    if (!input || !list) return;
    const transfer = new DataTransfer();
    attached.forEach((file) => transfer.items.add(file));
    input.files = transfer.files;
    shownIn = list;
    list.replaceChildren(
      ...kept(),
      ...attached.map((file, index) => {
        const item = document.createElement("li");
        item.className = "attachment";
        const name = document.createElement("span");
        name.className = "attachment-name";
        name.textContent = file.name;
        const weight = document.createElement("span");
        weight.className = "size";
        weight.textContent = size(file.size);
        const remove = document.createElement("button");
        remove.type = "button";
        remove.className = "remove-file";
        remove.dataset.index = String(index);
        remove.setAttribute("aria-label", `Remove ${file.name}`);
        remove.textContent = "×";
        item.append(name, " ", weight, remove);
        return item;
      }),
    );
  };

  // Add files, refusing (with a message) those over a limit; the others stay attached.
  const add = (files) => {
    const form = $("composer");
    if (!form || !$("composer-file-input") || !files.length) return;
    const maxFiles = Number(form.dataset.maxFiles) || Infinity;
    const maxSize = Number(form.dataset.maxFileSize) || Infinity;
    const problems = [];
    for (const file of files) {
      if (file.size > maxSize) {
        problems.push(`${file.name} is larger than ${size(maxSize)}, the most one file may be.`);
      } else if (file.size === 0) {
        problems.push(`${file.name} is empty (0 bytes).`);
      } else if (kept().length + attached.length >= maxFiles) {
        problems.push(`At most ${maxFiles} files can go in one message.`);
        break;
      } else {
        attached.push(file);
      }
    }
    show();
    say(problems.join(" "));
  };

  // The chooser replaces the input's files: add what was chosen to what was already attached.
  document.addEventListener("change", (event) => {
    if (event.target.id !== "composer-file-input") return;
    const chosen = [...event.target.files];
    show(); // put back the files attached before
    add(chosen);
  });

  document.addEventListener("click", (event) => {
    const button = event.target.closest("#composer-files .remove-file");
    if (!button) return;
    const keptItem = button.closest(".kept");
    if (keptItem) keptItem.remove(); // with its hidden input: that file is not sent again
    else attached.splice(Number(button.dataset.index), 1);
    show();
    say("");
    $("composer-text")?.focus();
  });

  // Dropping files anywhere on the composer attaches them.
  const carriesFiles = (event) => [...(event.dataTransfer?.types || [])].includes("Files");
  document.addEventListener("dragover", (event) => {
    const form = event.target.closest?.("#composer");
    if (!form || !$("composer-file-input") || !carriesFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
    form.classList.add("dropping");
  });
  document.addEventListener("dragleave", (event) => {
    const form = event.target.closest?.("#composer");
    if (form && !form.contains(event.relatedTarget)) form.classList.remove("dropping");
  });
  document.addEventListener("drop", (event) => {
    const form = event.target.closest?.("#composer");
    if (!form || !$("composer-file-input") || !carriesFiles(event)) return;
    event.preventDefault();
    form.classList.remove("dropping");
    add([...event.dataTransfer.files]);
  });

  // Pasting an image (a screenshot) into the message box attaches it; pasted text stays text.
  document.addEventListener("paste", (event) => {
    if (event.target.id !== "composer-text" || !$("composer-file-input")) return;
    const files = [...(event.clipboardData?.files || [])];
    if (!files.length) return;
    if (!event.clipboardData.types.includes("text/plain")) event.preventDefault();
    add(files);
  });

  // Sent: the files went with the message. Refused: they stay attached, like the text.
  document.addEventListener("htmx:after:request", (event) => {
    if (event.target.id !== "composer") return;
    const response = event.detail.ctx.response;
    if (response && response.status < 400) {
      kept().forEach((item) => item.remove());
      attached = [];
      show();
    }
  });

  // Undo put a message back in the composer: its files replace the ones attached before.
  document.addEventListener("htmx:after:swap", () => {
    if (!shownIn || shownIn === $("composer-files")) return;
    attached = [];
    show();
  });

  // A proxy's own "413 Request Entity Too Large" page (nginx's client_max_body_size) is not for
  // the chat: say it in the composer instead. Our own refusals carry HX-Retarget and swap as usual.
  document.addEventListener("htmx:before:swap", (event) => {
    const ctx = event.detail.ctx;
    if (event.target.id !== "composer" || ctx.response?.status !== 413 || ctx.hx?.retarget) return;
    event.preventDefault();
    say(event.target.dataset.tooLarge || "This message is too large to send. Remove some files and send again.");
  });
})();
