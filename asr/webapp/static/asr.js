/* Info boxes: a "?" button shows (and hides) the description next to it. */
(function () {
  "use strict";

  function toggle(button, open) {
    var box = button.nextElementSibling;
    if (!box || !box.classList.contains("infobox")) return;
    var show = open === undefined ? box.hidden : open;
    box.hidden = !show;
    button.setAttribute("aria-expanded", show ? "true" : "false");
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button.info") : null;
    if (button) {
      // Inside a panel's <summary>: show the box, do not fold the panel.
      event.preventDefault();
      event.stopPropagation();
      toggle(button);
      return;
    }
    if (!event.target.closest || !event.target.closest(".infobox")) {
      document.querySelectorAll("button.info[aria-expanded='true']").forEach(function (b) {
        toggle(b, false);
      });
    }
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      document.querySelectorAll("button.info[aria-expanded='true']").forEach(function (b) {
        toggle(b, false);
      });
    }
  });

  // Open the panel named in the URL fragment (#panel-3), e.g. from a link.
  function openFromHash() {
    var id = decodeURIComponent(window.location.hash.slice(1));
    var target = id && document.getElementById(id);
    if (target && target.tagName === "DETAILS") target.open = true;
  }
  window.addEventListener("hashchange", openFromHash);
  document.addEventListener("DOMContentLoaded", openFromHash);
})();
