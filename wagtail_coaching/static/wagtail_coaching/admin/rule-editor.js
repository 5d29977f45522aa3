/* The automation rule editor's choosers of stages and steps.
 *
 * The server renders each chooser (select.coaching-rule-program) with the published program
 * of the rule's engagement. When the engagement changes, the stages and steps of the new
 * one are read from the admin (rules/program/<id>/, JSON) and every chooser is rebuilt,
 * including those of actions added afterwards; a rule for all engagements names no step.
 * The trigger's chooser shows only the steps of the kind the trigger needs. Nothing here
 * decides what is valid: the form checks it again when the rule is saved.
 */
(function () {
  "use strict";

  var SELECTOR = "select.coaching-rule-program";

  function option(value, label, kind) {
    var node = document.createElement("option");
    node.value = value;
    node.textContent = label;
    if (kind) {
      node.dataset.kind = kind;
    }
    return node;
  }

  function rebuild(select, program) {
    var kept = select.value;
    var first = (!program && select.dataset.coachingEmptyAll) || select.dataset.coachingEmpty || "";
    select.replaceChildren(option("", first));
    if (program && select.dataset.coachingProgram === "stage") {
      program.stages.forEach(function (stage) {
        select.appendChild(option(stage.id, stage.title));
      });
    } else if (program) {
      program.activities.forEach(function (group) {
        var optgroup = document.createElement("optgroup");
        optgroup.label = group.stage;
        group.steps.forEach(function (step) {
          optgroup.appendChild(option(step.id, step.title + " · " + step.kind_label, step.kind));
        });
        select.appendChild(optgroup);
      });
    }
    select.value = kept;
    if (select.value !== kept) {
      select.value = "";
    }
    select.dataset.coachingEngagement = program ? String(program.engagement) : "";
  }

  function filterKinds(select, trigger) {
    var kinds = JSON.parse(select.dataset.coachingTriggerKinds || "{}");
    var wanted = trigger ? kinds[trigger.value] : null;
    select.querySelectorAll("option[data-kind]").forEach(function (node) {
      var hide = Boolean(wanted) && node.dataset.kind !== wanted;
      node.hidden = hide;
      node.disabled = hide;
      if (hide && node.selected) {
        select.value = "";
      }
    });
  }

  function init() {
    var engagement = document.getElementById("id_engagement");
    var first = document.querySelector(SELECTOR);
    if (!engagement || !first) {
      return;
    }
    var form = engagement.form || document;
    var trigger = document.getElementById("id_trigger");
    var url = first.dataset.coachingUrl;
    var initial = engagement.value;
    var current = { engagement: initial, program: undefined };
    var cache = {};

    function choosers() {
      return form.querySelectorAll(SELECTOR);
    }

    function applyKinds() {
      choosers().forEach(function (select) {
        if (select.dataset.coachingTriggerKinds) {
          filterKinds(select, trigger);
        }
      });
    }

    function load(id) {
      if (!id) {
        return Promise.resolve(null);
      }
      if (!cache[id]) {
        cache[id] = fetch(url.replace("{id}", encodeURIComponent(id)), {
          credentials: "same-origin",
          headers: { Accept: "application/json" },
        }).then(function (response) {
          if (!response.ok) {
            throw new Error(response.status);
          }
          return response.json();
        });
      }
      return cache[id];
    }

    function show(id) {
      current.engagement = id;
      load(id).then(function (program) {
        if (current.engagement !== id) {
          return; // another engagement was chosen meanwhile
        }
        current.program = program;
        choosers().forEach(function (select) {
          rebuild(select, program);
        });
        applyKinds();
      }).catch(function () {
        delete cache[id];
      });
    }

    engagement.addEventListener("change", function () {
      show(engagement.value);
    });
    if (trigger) {
      trigger.addEventListener("change", applyKinds);
    }
    // Actions added after the engagement changed come with the first engagement's choices.
    new MutationObserver(function () {
      if (current.engagement === initial || current.program === undefined) {
        return;
      }
      var wanted = current.program ? String(current.program.engagement) : "";
      choosers().forEach(function (select) {
        if (select.dataset.coachingEngagement !== wanted) {
          rebuild(select, current.program);
        }
      });
    }).observe(form, { childList: true, subtree: true });
    applyKinds();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
