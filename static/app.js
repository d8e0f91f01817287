// Patchboard's small script: row selection, dialogs and toasts. No inline
// handlers anywhere (the CSP forbids them); behaviour hangs off data-*
// attributes through event delegation, so it survives htmx swaps.
(function () {
  "use strict";

  // Selecting rows enables the controls marked data-needs-selection and
  // keeps the hidden device_id inputs of action forms in step.
  function selectedIDs() {
    return Array.from(document.querySelectorAll("input[data-row-select]:checked")).map(function (c) { return c.value; });
  }
  // "Select all matching": the actions name the view (its filters), not
  // rows; the server lists its devices. Any change of selection ends it.
  var allMatching = 0;
  function syncSelection() {
    var ids = selectedIDs();
    var boxes = document.querySelectorAll("input[data-row-select]");
    var offer = document.querySelector("[data-select-matching]");
    if (offer) offer.classList.toggle("hidden", !(ids.length > 0 && ids.length === boxes.length));
    if (allMatching) {
      document.querySelectorAll("[data-needs-selection]").forEach(function (el) { el.disabled = el.hasAttribute("data-denied"); });
      document.querySelectorAll("[data-selection-count]").forEach(function (el) { el.textContent = "All " + allMatching.toLocaleString("en-US") + " matching selected"; });
      var filters = document.getElementById("filters");
      document.querySelectorAll("[data-selected-ids]").forEach(function (holder) {
        holder.innerHTML = "";
        var add = function (k, v) {
          var i = document.createElement("input");
          i.type = "hidden"; i.name = k; i.value = v;
          holder.appendChild(i);
        };
        add("all_matching", "1");
        if (filters) new FormData(filters).forEach(function (v, k) { if (v !== "" && k !== "size" && k !== "page") add(k, v); });
      });
      return;
    }
    document.querySelectorAll("[data-needs-selection]").forEach(function (el) { el.disabled = ids.length === 0 || el.hasAttribute("data-denied"); });
    document.querySelectorAll("[data-selection-count]").forEach(function (el) { el.textContent = ids.length ? ids.length + " selected" : ""; });
    document.querySelectorAll("input[data-row-select]").forEach(function (c) {
      var tr = c.closest("tr");
      if (tr) tr.classList.toggle("selected", c.checked);
    });
    document.querySelectorAll("[data-selected-ids]").forEach(function (holder) {
      holder.innerHTML = "";
      ids.forEach(function (id) {
        var i = document.createElement("input");
        i.type = "hidden"; i.name = "device_id"; i.value = id;
        holder.appendChild(i);
      });
    });
  }
  document.addEventListener("change", function (e) {
    var t = e.target;
    if (t.matches && t.matches("input[data-select-all]")) {
      document.querySelectorAll("input[data-row-select]").forEach(function (c) { c.checked = t.checked; });
    }
    if (t.matches && (t.matches("input[data-row-select]") || t.matches("input[data-select-all]"))) {
      allMatching = 0;
      syncSelection();
    }
  });
  document.addEventListener("click", function (e) {
    var on = e.target.closest && e.target.closest("[data-select-matching-on]");
    if (!on) return;
    allMatching = parseInt(on.closest("[data-select-matching]").getAttribute("data-select-matching"), 10) || 0;
    syncSelection();
  });
  // A new table is a new view: its selection starts empty.
  document.addEventListener("htmx:beforeSwap", function (e) {
    if (e.detail.target && (e.detail.target.id === "device-table" || e.detail.target.id === "blade")) allMatching = 0;
  });

  // <button data-open-dialog="id"> opens a <dialog>; [data-close-dialog] closes it.
  document.addEventListener("click", function (e) {
    // <a data-export-form="id"> downloads what the form shows now: search,
    // filters and sort swap only the table, so the rendered href is stale.
    var exporter = e.target.closest && e.target.closest("a[data-export-form]");
    if (exporter) {
      toast(exporter.getAttribute("data-toast"));
      var form = document.getElementById(exporter.getAttribute("data-export-form"));
      if (form) {
        var params = new URLSearchParams();
        new FormData(form).forEach(function (v, k) { if (v !== "") params.append(k, v); });
        exporter.href = exporter.pathname + "?" + params.toString();
      }
      return;
    }
    var opener = e.target.closest && e.target.closest("[data-open-dialog]");
    if (opener) {
      var d = document.getElementById(opener.getAttribute("data-open-dialog"));
      if (d && d.showModal) { syncSelection(); d.showModal(); }
      return;
    }
    var closer = e.target.closest && e.target.closest("[data-close-dialog]");
    if (closer) {
      var dlg = closer.closest("dialog");
      if (dlg) dlg.close();
      if (closer.hasAttribute("data-clear-target")) {
        var target = document.getElementById(closer.getAttribute("data-clear-target"));
        if (target) clearFlyout(target);
      }
    }
  });
  // Escape closes the flyout too.
  document.addEventListener("keydown", function (e) {
    if (e.key !== "Escape") return;
    var fly = document.getElementById("flyout");
    if (fly && fly.innerHTML.trim() !== "") clearFlyout(fly);
  });

  // The flyout takes the focus when it opens (else keyboard users would tab
  // through the whole table to reach it) and gives it back to the link that
  // opened it when it closes.
  var flyoutOpener = null;
  function clearFlyout(fly) {
    fly.innerHTML = "";
    if (flyoutOpener && document.body.contains(flyoutOpener)) flyoutOpener.focus();
    flyoutOpener = null;
  }

  // After a swap: the dialog whose form made the request closes (not every
  // open dialog: the discovery banner's polling swaps every second),
  // selection state is re-applied, a filled flyout takes the focus, and
  // toasts fade after a while.
  document.addEventListener("htmx:afterSwap", function (e) {
    var elt = e.detail.requestConfig && e.detail.requestConfig.elt;
    var dlg = elt && elt.closest && elt.closest("dialog[open][data-close-on-swap]");
    if (dlg) dlg.close();
    if (e.detail.target && e.detail.target.id === "flyout" && e.detail.target.innerHTML.trim() !== "") {
      flyoutOpener = elt;
      var close = e.detail.target.querySelector("[data-close-dialog]");
      if (close) close.focus();
    }
    syncSelection();
    document.querySelectorAll("#toast > .toast:not([data-timed])").forEach(function (t) {
      t.setAttribute("data-timed", "");
      setTimeout(function () { t.remove(); }, 8000);
    });
  });
  // An htmx error answer goes to the toast area.
  document.addEventListener("htmx:responseError", function (e) {
    var box = document.getElementById("toast");
    if (!box) return;
    var div = document.createElement("div");
    div.className = "toast error";
    div.setAttribute("role", "alert");
    div.setAttribute("data-testid", "error-message");
    var text = e.detail.xhr && e.detail.xhr.responseText ? e.detail.xhr.responseText.replace(/<[^>]*>/g, "").trim() : "";
    div.textContent = text || "The request failed.";
    box.appendChild(div);
  });
  document.addEventListener("DOMContentLoaded", syncSelection);

  // Toasts: what an action changed, said where people look. The server
  // sends them as an HX-Trigger "toast" event; a control with data-toast
  // says its own when its request succeeds (Refresh) or when it is
  // clicked (a download).
  function toast(msg) {
    var box = document.getElementById("toast");
    if (!box || !msg) return;
    var div = document.createElement("div");
    div.className = "toast";
    div.setAttribute("role", "status");
    div.setAttribute("data-testid", "toast-message");
    div.textContent = msg;
    box.appendChild(div);
    setTimeout(function () { div.remove(); }, 8000);
  }
  document.addEventListener("toast", function (e) { toast(e.detail && e.detail.value); });
  document.addEventListener("htmx:afterRequest", function (e) {
    var elt = e.detail.elt;
    if (e.detail.successful && elt && elt.hasAttribute && elt.hasAttribute("data-toast")) toast(elt.getAttribute("data-toast"));
  });

  // Deregister asks first, in a dialog that names the devices: the
  // browser's confirm() cannot. The form posts on the "confirmed" event.
  document.addEventListener("click", function (e) {
    var asker = e.target.closest && e.target.closest("[data-confirm]");
    if (asker) {
      var dlg = document.getElementById(asker.getAttribute("data-confirm"));
      if (!dlg) return;
      var names = Array.from(document.querySelectorAll("input[data-row-select]:checked")).map(function (c) {
        var link = c.closest("tr") && c.closest("tr").querySelector("[data-testid=device-link]");
        return link ? link.textContent.trim() : c.value;
      });
      var list = dlg.querySelector("[data-confirm-names]");
      list.innerHTML = "";
      names.slice(0, 10).forEach(function (n) {
        var li = document.createElement("li");
        li.textContent = n;
        list.appendChild(li);
      });
      if (names.length > 10) {
        var more = document.createElement("li");
        more.textContent = "and " + (names.length - 10) + " more";
        list.appendChild(more);
      }
      var total = allMatching || names.length;
      if (allMatching > names.length) {
        list.lastChild && list.lastChild.textContent.indexOf("and ") === 0 && list.removeChild(list.lastChild);
        var rest = document.createElement("li");
        rest.textContent = "and " + (allMatching - Math.min(names.length, 10)).toLocaleString("en-US") + " more matching devices";
        list.appendChild(rest);
      }
      dlg.querySelectorAll("[data-confirm-count]").forEach(function (el) {
        el.textContent = total === 1 ? "1 device" : total.toLocaleString("en-US") + " devices";
      });
      dlg.showModal();
      return;
    }
    var confirmer = e.target.closest && e.target.closest("[data-confirm-submit]");
    if (confirmer) {
      var form = document.getElementById(confirmer.getAttribute("data-confirm-submit"));
      var box = confirmer.closest("dialog");
      if (box) box.close();
      if (form) htmx.trigger(form, "confirmed");
    }
  });

  // The device blades are tabs (WAI-ARIA): arrow keys, Home and End move
  // between them and open the one they land on.
  document.addEventListener("keydown", function (e) {
    var tab = e.target.closest && e.target.closest("[role=tab]");
    if (!tab) return;
    var tabs = Array.from(tab.closest("[role=tablist]").querySelectorAll("[role=tab]"));
    var i = tabs.indexOf(tab), next = -1;
    switch (e.key) {
      case "ArrowRight": next = (i + 1) % tabs.length; break;
      case "ArrowLeft": next = (i - 1 + tabs.length) % tabs.length; break;
      case "Home": next = 0; break;
      case "End": next = tabs.length - 1; break;
      default: return;
    }
    e.preventDefault();
    tabs[next].focus();
    tabs[next].click();
  });

  // [data-copy="id"] copies the value of the element with that id.
  document.addEventListener("click", function (e) {
    var btn = e.target.closest && e.target.closest("[data-copy]");
    if (!btn) return;
    var field = document.getElementById(btn.getAttribute("data-copy"));
    if (!field) return;
    field.select();
    var done = function () { toast("Copied to the clipboard."); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done, function () { document.execCommand("copy"); done(); });
    } else {
      document.execCommand("copy");
      done();
    }
  });

  // The menu button shows the left navigation on small screens.
  document.addEventListener("click", function (e) {
    var toggle = e.target.closest && e.target.closest("[data-nav-toggle]");
    if (!toggle) return;
    var open = document.body.classList.toggle("nav-open");
    toggle.setAttribute("aria-expanded", String(open));
  });

  // Back and Forward restore the page from htmx's history cache, which
  // keeps the markup but not what was typed or chosen since: the search
  // box and the filters would show another query than the table (and
  // Export would download that other query). The URL is the blade's
  // state, so the controls are set from it.
  function syncFiltersFromURL() {
    var form = document.getElementById("filters");
    if (!form) return;
    var params = new URLSearchParams(window.location.search);
    Array.from(form.elements).forEach(function (el) {
      if (!el.name || el.type === "hidden" || el.type === "submit") return;
      var v = params.get(el.name) || "";
      if (el.tagName === "SELECT") {
        if (v === "" && el.name === "size") return; // the default size is the selected option
        el.value = v;
        if (el.selectedIndex < 0) el.selectedIndex = 0;
      } else {
        el.value = v;
      }
    });
    // The sort travels in hidden inputs of the table, which the restore
    // brought back with the rows.
  }
  document.addEventListener("htmx:historyRestore", syncFiltersFromURL);
  window.addEventListener("pageshow", syncFiltersFromURL);

  // A table too wide (or too tall) for its frame scrolls inside it: the
  // frame then takes the keyboard focus, so that arrow keys scroll it even
  // when no cell holds a link, and says which table it is. Frames that fit
  // are not focusable, to keep the Tab order short.
  function tableName(wrap) {
    var table = wrap.querySelector("table");
    if (table && table.getAttribute("aria-label")) return table.getAttribute("aria-label");
    var caption = table && table.querySelector("caption");
    if (caption && caption.textContent.trim()) return caption.textContent.trim();
    var heading = null, all = document.querySelectorAll("h1, h2, h3, h4");
    for (var i = 0; i < all.length; i++) {
      if (all[i].compareDocumentPosition(wrap) & Node.DOCUMENT_POSITION_FOLLOWING) heading = all[i];
    }
    return heading ? heading.textContent.trim() : "Table";
  }
  function markScrollers() {
    document.querySelectorAll(".table-wrap").forEach(function (wrap) {
      var scrolls = wrap.scrollWidth > wrap.clientWidth + 1 || wrap.scrollHeight > wrap.clientHeight + 1;
      if (scrolls && !wrap.hasAttribute("tabindex")) {
        wrap.setAttribute("tabindex", "0");
        wrap.setAttribute("role", "region");
        wrap.setAttribute("aria-label", tableName(wrap) + " (scrolls)");
      } else if (!scrolls && wrap.hasAttribute("tabindex")) {
        ["tabindex", "role", "aria-label"].forEach(function (a) { wrap.removeAttribute(a); });
      }
    });
  }
  var scrollersPending = false;
  function markScrollersSoon() {
    if (scrollersPending) return;
    scrollersPending = true;
    requestAnimationFrame(function () { scrollersPending = false; markScrollers(); });
  }
  document.addEventListener("DOMContentLoaded", markScrollers);
  document.addEventListener("htmx:afterSettle", markScrollersSoon);
  window.addEventListener("resize", markScrollersSoon);

  // Imports: a file over the upload limit is refused before it is sent
  // (input[data-max-bytes]); while a preview uploads, its indicator shows
  // the upload's progress, then the server's checking.
  document.addEventListener("change", function (e) {
    var input = e.target;
    if (!input.matches || !input.matches("input[type=file][data-max-bytes]")) return;
    var max = parseInt(input.getAttribute("data-max-bytes"), 10);
    var file = input.files && input.files[0];
    input.setCustomValidity(file && file.size > max ? input.getAttribute("data-too-large") : "");
    input.reportValidity();
  });
  function uploadIndicator(form) {
    var sel = form && form.getAttribute && form.getAttribute("hx-indicator");
    return sel ? document.querySelector(sel) : null;
  }
  document.addEventListener("htmx:beforeRequest", function (e) {
    var ind = uploadIndicator(e.detail.elt);
    var bar = ind && ind.querySelector("[data-upload-progress]");
    if (!bar) return;
    bar.removeAttribute("value");
    ind.querySelector("[data-upload-status]").textContent = "Uploading…";
  });
  document.addEventListener("htmx:xhr:progress", function (e) {
    var ind = uploadIndicator(e.target);
    var bar = ind && ind.querySelector("[data-upload-progress]");
    if (!bar || !e.detail.lengthComputable || !e.detail.total) return;
    var status = ind.querySelector("[data-upload-status]");
    if (e.detail.loaded < e.detail.total) {
      var pct = Math.floor(100 * e.detail.loaded / e.detail.total);
      bar.value = pct;
      status.textContent = "Uploading… " + pct + "%";
    } else {
      bar.removeAttribute("value"); // indeterminate while the server checks
      status.textContent = status.getAttribute("data-busy-text");
    }
  });
})();
