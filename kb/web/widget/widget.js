/* The library's question box for the practice's own pages. Paste:
 *   <link rel="stylesheet" href="https://LIBRARY/widget.css">
 *   <div data-kb-widget></div>
 *   <script src="https://LIBRARY/widget.js" defer></script>
 * No dependencies, no requests but to the library that served this file, no cookies, nothing stored in
 * the browser. Every piece of text is inserted as text (textContent), never as HTML.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  var base = new URL(script ? script.src : "/widget.js", document.baseURI).origin;
  var EXIT_URL = __KB_EXIT_URL__;  // the neutral site, from the library's settings
  var exitUrl = (script && script.getAttribute("data-exit-url")) || EXIT_URL;
  var PHONE = /\b\d(?:-?\d){2,}\b/g;
  var serial = 0;

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function link(text, href, newTab) {
    var a = el("a", "kbw-link", text);
    a.href = href;
    if (newTab) { a.target = "_blank"; a.rel = "noopener noreferrer"; }
    return a;
  }

  function libraryUrl(path) {
    // Citation and profile paths are the library's own ("/library?doc=..."); anything else is not linked.
    return typeof path === "string" && path.charAt(0) === "/" && path.charAt(1) !== "/" ? base + path : null;
  }

  function leave() {
    // GOV.UK "Exit this page": blank the page first (the question with it), then replace it in the history.
    document.querySelectorAll("[data-kb-widget] input, [data-kb-widget] textarea").forEach(function (box) {
      box.value = "";
    });
    document.title = "";
    document.body.textContent = "";
    window.location.replace(exitUrl);
  }

  function exitButton(extraClass) {
    var button = el("button", "kbw-exit" + (extraClass ? " " + extraClass : ""), "Leave this site quickly");
    button.type = "button";
    button.setAttribute("aria-describedby", "kbw-exit-hint");
    button.addEventListener("click", leave);
    return button;
  }

  // Pressing Shift three times within two seconds leaves too (the GOV.UK pattern's keyboard shortcut).
  var shifts = [];
  document.addEventListener("keyup", function (event) {
    if (event.key !== "Shift") { shifts = []; return; }
    var now = Date.now();
    shifts = shifts.filter(function (t) { return now - t < 2000; });
    shifts.push(now);
    if (shifts.length >= 3) leave();
  });

  function phoneText(parent, action) {
    var pos = 0;
    String(action).replace(PHONE, function (number, at) {
      parent.appendChild(document.createTextNode(action.slice(pos, at)));
      parent.appendChild(link(number, "tel:" + number.replace(/[^0-9]/g, ""), false));
      pos = at + number.length;
      return number;
    });
    parent.appendChild(document.createTextNode(action.slice(pos)));
  }

  function crisisPanel(crisis) {
    var panel = el("section", "kbw-crisis");
    panel.setAttribute("aria-labelledby", "kbw-crisis-heading-" + serial);
    var heading = el("h3", "kbw-heading",
      crisis.tier === "urgent" ? "Please get help now" : "Support is here any time");
    heading.id = "kbw-crisis-heading-" + serial;
    panel.appendChild(heading);
    panel.appendChild(el("p", "kbw-strong", crisis.message ||
      "Your safety comes first. If you are thinking about harming yourself or someone else, or you are in " +
      "danger, please reach out now. You do not have to go through this alone."));
    var list = el("ul", "kbw-list");
    (crisis.resources || []).forEach(function (r) {
      var item = el("li");
      item.appendChild(el("strong", null, r.name + ": "));
      phoneText(item, r.action || "");
      list.appendChild(item);
    });
    panel.appendChild(list);
    if (crisis.kind === "violence" || crisis.kind === "child-safety") {
      panel.appendChild(el("p", null, "If someone could see this screen, you can leave at once:"));
      panel.appendChild(exitButton("kbw-exit-large"));
    }
    return panel;
  }

  function answerKind(answer) {
    if (answer.crisis && answer.crisis.detected) return "crisis";
    return answer.abstained ? "abstained" : "answered";
  }

  function feedback(answer) {
    var box = el("div", "kbw-feedback");
    var label = el("p", "kbw-feedback-label", "Was this helpful?");
    label.id = "kbw-feedback-label-" + serial;
    box.appendChild(label);
    var row = el("div", "kbw-row");
    row.setAttribute("role", "group");
    row.setAttribute("aria-labelledby", label.id);
    var status = el("p", "kbw-status");
    status.setAttribute("role", "status");
    [[true, "Yes"], [false, "No"]].forEach(function (choice) {
      var button = el("button", "kbw-thumb", choice[1]);
      button.type = "button";
      button.addEventListener("click", function () {
        row.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
        var body = {kind: answerKind(answer), helpful: choice[0],
                    chunk_ids: (answer.citations || []).map(function (c) { return c.chunk_id; })};
        post("/api/v1/feedback", body).then(function () {
          status.textContent = "Thank you. Only your yes or no and the articles cited were kept, never your question.";
        }, function (error) { status.textContent = error.message; });
      });
      row.appendChild(button);
    });
    box.appendChild(row);
    box.appendChild(status);
    return box;
  }

  function render(results, answer) {
    serial += 1;
    results.textContent = "";
    if (answer.crisis && answer.crisis.detected) results.appendChild(crisisPanel(answer.crisis));
    (answer.notices || []).forEach(function (notice) { results.appendChild(el("p", "kbw-notice", notice)); });
    if (answer.abstained) {
      if ((answer.topics || []).length) {
        results.appendChild(el("h3", "kbw-heading", "Topics you could browse"));
        var topics = el("ul", "kbw-list");
        answer.topics.forEach(function (t) {
          var item = el("li");
          item.appendChild(link(t.replace(/-/g, " "), base + "/library?topic=" + encodeURIComponent(t), true));
          topics.appendChild(item);
        });
        results.appendChild(topics);
      }
    } else {
      results.appendChild(el("h3", "kbw-heading", "Answer"));
      results.appendChild(el("p", "kbw-answer", answer.answer || ""));
      results.appendChild(el("h3", "kbw-heading", "Sources"));
      var sources = el("ol", "kbw-list kbw-sources");
      (answer.citations || []).forEach(function (c) {
        var item = el("li");
        item.value = c.n;
        var href = libraryUrl(c.url);
        var title = "Read “" + c.title + "”" + (c.section ? ", " + c.section : "") + " in the library";
        item.appendChild(href ? link(title, href, true) : el("span", null, title));
        item.appendChild(el("blockquote", "kbw-quote", c.quote));
        sources.appendChild(item);
      });
      results.appendChild(sources);
    }
    var therapists = answer.therapists || [];
    results.appendChild(el("h3", "kbw-heading", therapists.length ? "Therapists who work with this"
                                                                   : "Talk with a therapist"));
    var people = el("ul", "kbw-list");
    therapists.forEach(function (m) {
      var item = el("li");
      item.appendChild(el("strong", null, m.name + ", " + m.credentials));
      item.appendChild(el("p", "kbw-why", m.why));
      item.appendChild(link("View " + m.name + "'s profile", base + "/therapists?id=" + encodeURIComponent(m.id), true));
      people.appendChild(item);
    });
    var all = el("li");
    all.appendChild(link("Browse the therapist directory", base + "/therapists", true));
    people.appendChild(all);
    results.appendChild(people);
    results.appendChild(feedback(answer));
    if (answer.disclaimer) results.appendChild(el("p", "kbw-disclaimer", answer.disclaimer));
  }

  function post(path, body) {
    return fetch(base + path, {method: "POST", headers: {"Content-Type": "application/json"},
                               body: JSON.stringify(body), credentials: "omit", cache: "no-store",
                               referrerPolicy: "no-referrer"})
      .then(function (reply) {
        return reply.json().catch(function () { return {}; }).then(function (data) {
          if (!reply.ok) {
            var failed = new Error(data.error ? "Sorry: " + data.error + "." : "Sorry, something went wrong.");
            failed.resources = data.resources;  // a failed answer still brings the crisis lines (fail-safe)
            throw failed;
          }
          return data;
        });
      }, function () { throw new Error("Sorry, the library could not be reached. Please try again."); });
  }

  function mount(root) {
    if (root.getAttribute("data-kb-ready")) return;
    root.setAttribute("data-kb-ready", "1");
    root.classList.add("kbw");
    var bar = el("div", "kbw-exit-bar");
    bar.appendChild(exitButton());
    var hint = el("span", "kbw-hint", "Or press Shift three times.");
    hint.id = "kbw-exit-hint";
    bar.appendChild(hint);
    root.appendChild(bar);
    var form = el("form", "kbw-form");
    form.setAttribute("role", "search");
    form.setAttribute("aria-label", "Ask the library");
    var id = "kbw-question-" + Math.random().toString(36).slice(2);
    var label = el("label", "kbw-label", "Your question");
    label.htmlFor = id;
    var box = el("input", "kbw-input");
    box.id = id;
    box.type = "text";
    box.name = "question";
    box.autocomplete = "off";
    box.maxLength = 1000;
    box.placeholder = "e.g. Why do I keep choosing people who hurt me?";
    var button = el("button", "kbw-ask", "Ask");
    button.type = "submit";
    var row = el("div", "kbw-row");
    row.appendChild(box);
    row.appendChild(button);
    form.appendChild(label);
    form.appendChild(row);
    root.appendChild(form);
    var status = el("p", "kbw-status");
    status.setAttribute("role", "status");
    root.appendChild(status);
    var results = el("div", "kbw-results");
    results.setAttribute("aria-live", "polite");
    root.appendChild(results);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var question = box.value.trim();
      if (!question) { status.textContent = "Type a few words first."; box.focus(); return; }
      button.disabled = true;
      status.textContent = "Searching the library…";
      post("/api/v1/ask", {question: question}).then(function (answer) {
        status.textContent = "";
        render(results, answer);
      }, function (error) {
        status.textContent = error.message;
        results.textContent = "";
        if (error.resources && error.resources.length) {
          serial += 1;
          results.appendChild(crisisPanel({resources: error.resources, message:
            "If you are in crisis or in danger, please reach out now. You do not have to go through this alone."}));
        }
      }).then(function () { button.disabled = false; });
    });
  }

  function start() {
    var roots = document.querySelectorAll("[data-kb-widget]");
    if (!roots.length && script) {
      var made = el("div");
      made.setAttribute("data-kb-widget", "");
      script.parentNode.insertBefore(made, script.nextSibling);
      roots = [made];
    }
    Array.prototype.forEach.call(roots, mount);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
