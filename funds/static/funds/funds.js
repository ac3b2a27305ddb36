/* The application form's small helpers; the server decides everything again, so the form works
 * without them.
 * - Show-if: a question marked data-show-if-field/-value is shown only while the answer to that
 *   question of the same step equals the value (or, for checkboxes, includes it). A hidden
 *   question's answer is dropped by the server, whatever is posted.
 * - Tables: the totals of numeric columns follow the cells (the server recomputes them).
 * - The receipt's print button (hidden without script).
 */
(function () {
  "use strict";

  function answerOf(form, name) {
    var inputs = form.querySelectorAll("[name='" + name + "']");
    var values = [];
    Array.prototype.forEach.call(inputs, function (input) {
      if (input.type === "radio" || input.type === "checkbox") {
        if (input.checked) values.push(input.type === "checkbox" && input.value === "on" ? "yes" : input.value);
      } else if (input.value.trim() !== "") {
        values.push(input.value.trim());
      }
    });
    return values;
  }

  function applyShowIf(form) {
    Array.prototype.forEach.call(form.querySelectorAll("[data-show-if-field]"), function (question) {
      var values = answerOf(form, question.dataset.showIfField);
      var wanted = question.dataset.showIfValue;
      var show = values.indexOf(wanted) !== -1 || (wanted === "true" && values.indexOf("yes") !== -1);
      question.hidden = !show;
    });
  }

  function applyTotals(table) {
    Array.prototype.forEach.call(table.querySelectorAll("output[data-total]"), function (output) {
      var sum = 0;
      var cents = true;
      Array.prototype.forEach.call(table.querySelectorAll("input[data-sum='" + output.dataset.total + "']"), function (cell) {
        var value = parseFloat(cell.value.replace(/,/g, ""));
        if (!isNaN(value)) sum += Math.round(value * 100);
        else if (cell.value.trim() !== "") cents = false;
      });
      output.textContent = cents ? (sum / 100).toFixed(2) : "—";
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("form.application-form"), function (form) {
    applyShowIf(form);
    form.addEventListener("change", function () { applyShowIf(form); });
    form.addEventListener("input", function (event) {
      applyShowIf(form);
      var table = event.target.closest("table[data-table]");
      if (table) applyTotals(table);
    });
    Array.prototype.forEach.call(form.querySelectorAll("table[data-table]"), applyTotals);
  });

  Array.prototype.forEach.call(document.querySelectorAll("[data-print]"), function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });
})();
