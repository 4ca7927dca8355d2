// Rich-text editing for the intake form and drafts (issue 5). Quill (served from
// /static/vendor, never a CDN) edits a hidden <textarea class="rich-source"> that the server
// reads; without JavaScript the textarea stays visible and works as is.
//
// Pasting from Word or WPS: the clipboard's HTML is sent to the server
// (POST /api/v1/submissions/clean-html), which cleans it with the same policy that stores the
// report (paragraphs, headings, lists, tables, links; no styles, classes or mso markup), and the
// cleaned HTML is inserted. The server sanitizes again on save, so this is for what the writer
// sees, not for safety.
//
// Near-duplicate hints: on a form with data-similar, the title and body are checked against
// recent reports a few seconds after the writer stops typing.
(function () {
  "use strict";

  function csrfOf(form) {
    var el = form.querySelector('input[name="_csrf"]');
    return el ? el.value : "";
  }

  function postJSON(url, form, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfOf(form) },
      body: JSON.stringify(body),
    }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    });
  }

  function setupEditor(form, holder) {
    var source = form.querySelector('textarea[name="' + holder.dataset.for + '"]');
    if (!source || typeof window.Quill !== "function") return null;
    var quill = new window.Quill(holder, {
      theme: "snow",
      modules: {
        table: true,
        toolbar: [[{ header: [1, 2, 3, false] }], ["bold", "italic", "underline"], [{ list: "ordered" }, { list: "bullet" }], ["link"], ["clean"]],
      },
      placeholder: "在此输入正文，或从 Word、WPS 粘贴",
    });
    if (source.value.trim() !== "") {
      quill.clipboard.dangerouslyPasteHTML(source.value, "silent");
    }
    // The editable area is what screen readers and the keyboard reach: label it as the field.
    quill.root.setAttribute("role", "textbox");
    quill.root.setAttribute("aria-multiline", "true");
    if (holder.getAttribute("aria-labelledby")) quill.root.setAttribute("aria-labelledby", holder.getAttribute("aria-labelledby"));
    source.hidden = true;
    source.setAttribute("aria-hidden", "true");
    holder.classList.add("ready");
    var sync = function () {
      source.value = quill.getText().trim() === "" ? "" : quill.getSemanticHTML();
    };
    quill.on("text-change", function () {
      sync();
      form.dispatchEvent(new CustomEvent("editor-change"));
    });
    form.addEventListener("submit", sync);

    // Word/WPS paste: clean on the server, insert the result.
    quill.root.addEventListener(
      "paste",
      function (ev) {
        var html = ev.clipboardData && ev.clipboardData.getData("text/html");
        if (!html) return; // plain text: Quill's own paste is fine
        ev.preventDefault();
        ev.stopPropagation();
        var range = quill.getSelection(true);
        postJSON("/api/v1/submissions/clean-html", form, { html: html })
          .then(function (out) {
            if (range.length) quill.deleteText(range.index, range.length, "user");
            quill.clipboard.dangerouslyPasteHTML(range.index, out.html, "user");
          })
          .catch(function () {
            quill.insertText(range.index, ev.clipboardData.getData("text/plain"), "user");
          });
      },
      true
    );
    form.quill = quill;
    return quill;
  }

  function setupSimilar(form) {
    var url = form.dataset.similar;
    var panel = document.getElementById("similar-hints");
    if (!url || !panel) return;
    var list = panel.querySelector("ul");
    var timer = null;
    var last = "";
    var check = function () {
      var title = (form.querySelector('input[name="title"]') || {}).value || "";
      var body = (form.querySelector('textarea[name="body_html"]') || {}).value || "";
      var key = title + "\u0000" + body;
      if (key === last || (title + body).replace(/<[^>]*>/g, "").trim().length < 20) return;
      last = key;
      postJSON(url, form, { title: title, body_html: body })
        .then(function (out) {
          list.textContent = "";
          (out.items || []).forEach(function (m) {
            var li = document.createElement("li");
            var a = document.createElement("a");
            a.href = "/submissions/" + m.id;
            a.textContent = "#" + m.id + " " + m.title;
            li.appendChild(a);
            var s = document.createElement("span");
            s.className = "muted";
            s.textContent = " " + m.unit_name + " · 相似度 " + Math.round(m.score * 100) + "%";
            li.appendChild(s);
            list.appendChild(li);
          });
          panel.hidden = !(out.items && out.items.length);
        })
        .catch(function () {});
    };
    var later = function () {
      clearTimeout(timer);
      timer = setTimeout(check, 1200);
    };
    form.addEventListener("input", later);
    form.addEventListener("editor-change", later);
    form.checkSimilar = check; // tests and the impatient call it directly
  }

  function init() {
    document.querySelectorAll("form[data-editor]").forEach(function (form) {
      form.querySelectorAll(".rich-editor").forEach(function (holder) {
        setupEditor(form, holder);
      });
      setupSimilar(form);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
