// Drag-and-drop ordering of an issue's items (SortableJS). Every change sends the whole order
// (place=ITEM|SECTION, repeated) so the server can check it names each item once. Without
// JavaScript the "上移 / 下移" buttons do the same job.
(function () {
  var root = document.getElementById("issue");
  if (!root || !root.dataset.editable || typeof Sortable === "undefined") return;
  var status = document.getElementById("order-status");
  function save() {
    var body = new URLSearchParams();
    body.append("_csrf", root.dataset.csrf);
    document.querySelectorAll("ol.issue-items").forEach(function (ol) {
      ol.querySelectorAll("li[data-item]").forEach(function (li) {
        body.append("place", li.dataset.item + "|" + ol.dataset.section);
      });
    });
    if (status) status.textContent = "正在保存顺序…";
    fetch("/issues/" + root.dataset.issue + "/order", {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRF-Token": root.dataset.csrf }
    }).then(function (r) {
      return r.json().then(function (j) {
        if (!r.ok) throw new Error((j.error && j.error.message) || "保存失败");
        if (status) status.textContent = "顺序已保存。";
        root.dataset.saved = String(Number(root.dataset.saved || 0) + 1);
      });
    }).catch(function (e) {
      if (status) status.textContent = "顺序未保存：" + e.message + "（请刷新页面）";
    });
  }
  document.querySelectorAll("ol.issue-items").forEach(function (ol) {
    // forceFallback: mouse and touch events instead of native HTML5 drag, the same in every
    // browser (and drivable by a test).
    Sortable.create(ol, { group: "issue-items", handle: ".handle", animation: 120, forceFallback: true, onEnd: save });
  });
})();
