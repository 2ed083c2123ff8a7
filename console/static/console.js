// zkshare console: the one script. Every page reads without it; here it
// only lets a bundle file be dropped on the verify form's text box.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var box = document.querySelector("textarea[data-drop]");
  if (!box) { return; }
  var input = document.getElementById(box.dataset.drop);
  function stop(e) { e.preventDefault(); e.stopPropagation(); }
  ["dragenter", "dragover"].forEach(function (t) {
    box.addEventListener(t, function (e) { stop(e); box.classList.add("dragging"); });
  });
  ["dragleave", "drop"].forEach(function (t) {
    box.addEventListener(t, function (e) { stop(e); box.classList.remove("dragging"); });
  });
  box.addEventListener("drop", function (e) {
    var files = e.dataTransfer && e.dataTransfer.files;
    if (!files || files.length === 0) { return; }
    if (input) { input.files = files; }
    files[0].text().then(function (text) { box.value = text; });
  });
});
