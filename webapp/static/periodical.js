// Drag-and-drop ordering of an issue (SortableJS): items within and across sections, and the
// sections themselves. Every change sends the whole order (place=ITEM|SECTION or section=NAME,
// repeated) so the server can check it names each item or section once. Without JavaScript the
// "上移 / 下移" and "栏目上移 / 栏目下移" buttons do the same job.
(function () {
  var root = document.getElementById("issue");
  if (!root || !root.dataset.editable || typeof Sortable === "undefined") return;
  var status = document.getElementById("order-status");
  function post(url, body, done) {
    if (status) status.textContent = "正在保存…";
    fetch(url, {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRF-Token": root.dataset.csrf }
    }).then(function (r) {
      return r.json().then(function (j) {
        if (!r.ok) throw new Error((j.error && j.error.message) || "保存失败");
        if (status) status.textContent = done;
        root.dataset.saved = String(Number(root.dataset.saved || 0) + 1);
      });
    }).catch(function (e) {
      if (status) status.textContent = "未保存：" + e.message + "（请刷新页面）";
    });
  }
  function saveItems() {
    var body = new URLSearchParams();
    body.append("_csrf", root.dataset.csrf);
    document.querySelectorAll("ol.issue-items").forEach(function (ol) {
      ol.querySelectorAll("li[data-item]").forEach(function (li) {
        body.append("place", li.dataset.item + "|" + ol.dataset.section);
      });
    });
    post("/issues/" + root.dataset.issue + "/order", body, "顺序已保存。");
  }
  function saveSections() {
    var body = new URLSearchParams();
    body.append("_csrf", root.dataset.csrf);
    document.querySelectorAll("#issue-sections > section[data-named]").forEach(function (sec) {
      body.append("section", sec.dataset.section);
    });
    post("/issues/" + root.dataset.issue + "/sections", body, "栏目顺序已保存。");
  }
  // forceFallback: mouse and touch events instead of native HTML5 drag, the same in every
  // browser (and drivable by a test).
  var sections = document.getElementById("issue-sections");
  if (sections) {
    Sortable.create(sections, { handle: ".section-handle", draggable: "section[data-named]", animation: 120,
      forceFallback: true, onEnd: saveSections });
  }
  document.querySelectorAll("ol.issue-items").forEach(function (ol) {
    Sortable.create(ol, { group: "issue-items", handle: ".handle", animation: 120, forceFallback: true, onEnd: saveItems });
  });
})();
