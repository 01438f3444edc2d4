// The playground page of `rewardrules serve` (docs/playground.md). Every check and every
// figure is the server's: this file only edits, asks and shows.
import { EditorView, keymap, lineNumbers, highlightActiveLine, hoverTooltip } from "@codemirror/view";
import { EditorState, Prec } from "@codemirror/state";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { yaml } from "@codemirror/lang-yaml";
import { syntaxHighlighting, defaultHighlightStyle, indentOnInput } from "@codemirror/language";
import { autocompletion, completionKeymap } from "@codemirror/autocomplete";
import { linter, lintGutter } from "@codemirror/lint";
import { searchKeymap } from "@codemirror/search";
import { SchemaGuide, completionSource, describe } from "./schema.js";

const token = document.querySelector('meta[name="rewardrules-token"]').content;
const $ = (id) => document.getElementById(id);
const state = { path: null, saved: null, run: null, problems: [] };

async function api(path, body, options = {}) {
  const init = { headers: { "x-rewardrules-token": token }, ...options };
  if (body !== undefined) {
    init.method = "POST";
    if (body instanceof Blob) {
      init.body = body;
    } else {
      init.headers["content-type"] = "application/json";
      init.body = JSON.stringify(body);
    }
  }
  const response = await fetch(path, init);
  let data;
  try {
    data = await response.json();
  } catch {
    data = { error: `the server answered ${response.status}` };
  }
  if (!response.ok) {
    const error = new Error(data.error || `the server answered ${response.status}`);
    error.data = data;
    throw error;
  }
  return data;
}

function say(text, isError = false) {
  const status = $("status");
  status.textContent = text;
  status.classList.toggle("error", isError);
}

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "onclick") node.addEventListener("click", value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function currentName() {
  return state.path || "<buffer>";
}

// The loader's problems and lint's warnings, as the editor's diagnostics.
function wordEnd(doc, pos) {
  const line = doc.lineAt(pos);
  let end = pos;
  while (end < line.to && /[^\s:,\]\}]/.test(doc.sliceString(end, end + 1))) end++;
  return end > pos ? end : Math.min(line.to, pos + 1) > pos ? line.to : pos;
}

function suggested(problem) {
  const match = /did you mean '([^']+)'/.exec(problem.suggestion || "");
  return match ? match[1] : null;
}

function toDiagnostic(doc, problem, severity) {
  let from = 0;
  if (problem.line && problem.line <= doc.lines) {
    const line = doc.line(problem.line);
    from = Math.min(line.to, line.from + (problem.column || 1) - 1);
  }
  const to = wordEnd(doc, from);
  const fix = suggested(problem);
  const diagnostic = {
    from,
    to: Math.max(to, from),
    severity,
    message: problem.text,
    source: severity === "error" ? "validate" : "lint",
  };
  if (fix) {
    diagnostic.actions = [
      { name: `Use '${fix}'`, apply: (view, start, end) => view.dispatch({ changes: { from: start, to: end, insert: fix } }) },
    ];
  }
  return diagnostic;
}

function showProblems(view, problems, warnings) {
  state.problems = problems;
  const list = $("problems");
  list.replaceChildren();
  for (const problem of problems) {
    const fix = suggested(problem);
    const item = el("li", { class: "problem" }, problem.text);
    if (fix) {
      item.append(" ", el("button", { type: "button", class: "fix", onclick: () => applyFix(view, problem, fix) }, `Use '${fix}'`));
    }
    list.append(item);
  }
  $("problems-heading").textContent = problems.length ? `Problems (${problems.length})` : "No problems";
  const warned = $("warnings");
  warned.replaceChildren(...warnings.map((warning) => el("li", { class: "warning" }, warning.text)));
  $("warnings-heading").textContent = warnings.length ? `Warnings (${warnings.length})` : "No warnings";
}

function applyFix(view, problem, fix) {
  const diagnostic = toDiagnostic(view.state.doc, problem, "error");
  view.dispatch({ changes: { from: diagnostic.from, to: diagnostic.to, insert: fix } });
  view.focus();
}

const checker = linter(
  async (view) => {
    const text = view.state.doc.toString();
    let found;
    try {
      found = await api("/api/validate", { text, path: currentName() });
    } catch (error) {
      say(error.message, true);
      return [];
    }
    if (view.state.doc.toString() !== text) return [];
    const warnings = found.warnings || [];
    showProblems(view, found.problems, warnings);
    return [
      ...found.problems.map((problem) => toDiagnostic(view.state.doc, problem, "error")),
      ...warnings.map((warning) => toDiagnostic(view.state.doc, warning, "warning")),
    ];
  },
  { delay: 250 },
);

// Results: the table, explain, the comparison and the report's charts.
function table(rows) {
  const columns = ["customer", "points", "tier", "rewards", "cost"];
  const head = el("tr", {}, ...columns.map((name) => el("th", { scope: "col" }, name)), el("th", { scope: "col" }, "explain"));
  const body = rows.map((row) =>
    el(
      "tr",
      {},
      ...columns.map((name) => el("td", name === "points" || name === "cost" ? { class: "number" } : {}, row[name] === null ? "" : String(row[name]))),
      el("td", {}, el("button", { type: "button", class: "explain", "data-customer": row.customer, onclick: () => explainCustomer(row.customer) }, `Explain ${row.customer}`)),
    ),
  );
  return el("table", { id: "results-table" }, el("thead", {}, head), el("tbody", {}, ...body));
}

function runRequest(extra = {}) {
  return { text: view.state.doc.toString(), path: currentName(), history: $("history").value, run: state.run || "", ...extra };
}

function needHistory() {
  if (!$("history").value) {
    say("Pick a history (or upload one) to run the program over.", true);
    return false;
  }
  return true;
}

function problemsOf(error) {
  return error.data && error.data.problems ? error.data.problems.map((problem) => problem.text).join("\n") : "";
}

async function run() {
  if (!needHistory()) return;
  state.run = Math.random().toString(36).slice(2);
  $("cancel").disabled = false;
  say("Running…");
  try {
    const found = await api("/api/run", runRequest());
    $("results").replaceChildren(
      el("p", { id: "total-cost" }, `${found.program}: ${found.customers.length} customers, cost ${found.cost}`),
      table(found.customers),
    );
    $("report-frame").src = found.report;
    $("report-frame").hidden = false;
    say(`Ran over ${$("history").value.replace(/^upload:.*/, "the uploaded history")}.`);
    await compareWithSaved();
  } catch (error) {
    say(`${error.message}${problemsOf(error) ? "\n" + problemsOf(error) : ""}`, true);
  } finally {
    $("cancel").disabled = true;
    state.run = null;
  }
}

function customers(count) {
  return `${count} customer${count === 1 ? "" : "s"}`;
}

async function compareWithSaved() {
  const panel = $("comparison");
  if (!state.path || state.saved === null) {
    panel.replaceChildren(el("p", {}, "Not compared: this buffer has no saved file."));
    return;
  }
  const found = await api("/api/compare", runRequest());
  if (found.same) {
    panel.replaceChildren(el("p", {}, `The buffer is the saved ${state.path}: nothing to compare.`));
    return;
  }
  const rows = (title, list) =>
    list.length
      ? el("div", {}, el("h4", {}, title), el("ul", {}, ...list.map((row) => el("li", {}, `${row.customer}: ${row.old} → ${row.new} (${row.change})`))))
      : "";
  panel.replaceChildren(
    el("p", { id: "cost-change" }, `Against the saved ${state.path}: cost ${found.old_cost} → ${found.new_cost}, change ${found.change}.`),
    el("p", {}, `${customers(found.gaining)} gain, ${found.losing} lose, ${found.unchanged} unchanged.`),
    rows("Most gaining", found.top_gaining),
    rows("Most losing", found.top_losing),
  );
}

async function explainCustomer(customer) {
  say(`Explaining ${customer}…`);
  try {
    const found = await api("/api/explain", runRequest({ customer }));
    $("explanation").replaceChildren(el("h3", {}, `Why ${found.customer} got what they got`), el("pre", { id: "explain-text" }, found.text));
    say(`Explained ${customer}.`);
  } catch (error) {
    say(error.message, true);
  }
}

async function save(asDraft = false) {
  let path = state.path;
  if (!path || asDraft) {
    const suggestedName = path ? path.replace(/\.ya?ml$/, ".draft.yaml") : "new-program.draft.yaml";
    path = window.prompt("Save as (a name inside the folder):", suggestedName);
    if (!path) return;
  }
  try {
    const found = await api("/api/save", { path, text: view.state.doc.toString() });
    if (!found.draft) {
      state.path = found.saved;
      state.saved = view.state.doc.toString();
    }
    say(`Saved ${found.saved}${found.backup ? ` (the previous version is in ${found.backup})` : ""}${found.draft ? " as a draft" : ""}.`);
    await loadFiles(state.path);
  } catch (error) {
    say(error.message, true);
  }
}

async function openProgram(path) {
  const found = await api(`/api/file?path=${encodeURIComponent(path)}`);
  state.path = found.path;
  state.saved = found.text;
  view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: found.text } });
  say(`Opened ${found.path}.`);
}

async function loadFiles(selected) {
  const found = await api("/api/files");
  const programs = $("program");
  programs.replaceChildren(el("option", { value: "" }, "(a new program)"), ...found.programs.map((name) => el("option", { value: name }, name)));
  if (selected) programs.value = selected;
  const histories = $("history");
  const keep = histories.value;
  const uploaded = [...histories.options].filter((option) => option.value.startsWith("upload:"));
  histories.replaceChildren(el("option", { value: "" }, "(pick a history)"), ...uploaded, ...found.histories.map((name) => el("option", { value: name }, name)));
  histories.value = keep;
}

async function upload(file) {
  say(`Uploading ${file.name}…`);
  try {
    const found = await api("/api/upload", file, { headers: { "x-rewardrules-token": token, "x-file-name": file.name } });
    const option = el("option", { value: found.history }, `${found.name} (uploaded, ${found.events} events)`);
    $("history").append(option);
    $("history").value = found.history;
    say(`Uploaded ${found.name}: ${found.events} events.`);
  } catch (error) {
    say(`${error.message}${problemsOf(error) ? "\n" + problemsOf(error) : ""}`, true);
  }
}

let view;

async function main() {
  const response = await fetch("/schema.json");
  const guide = new SchemaGuide(await response.json());

  const shortcuts = Prec.highest(
    keymap.of([
      { key: "Mod-s", preventDefault: true, run: () => (save(), true) },
      { key: "Mod-Enter", preventDefault: true, run: () => (run(), true) },
    ]),
  );

  view = new EditorView({
    parent: $("editor"),
    state: EditorState.create({
      doc: "",
      extensions: [
        shortcuts,
        lineNumbers(),
        highlightActiveLine(),
        history(),
        indentOnInput(),
        yaml(),
        syntaxHighlighting(defaultHighlightStyle),
        autocompletion({ override: [completionSource(guide)] }),
        hoverTooltip((view, pos) => {
          const found = describe(guide, view.state.doc, pos);
          if (!found) return null;
          return {
            pos: found.from,
            end: found.to,
            create: () => ({ dom: el("div", { class: "hover-doc" }, el("strong", {}, found.title), el("div", {}, found.text)) }),
          };
        }),
        checker,
        lintGutter(),
        keymap.of([...completionKeymap, ...defaultKeymap, ...historyKeymap, ...searchKeymap, indentWithTab]),
        EditorView.contentAttributes.of({ "aria-label": "Program (YAML)", tabindex: "0" }),
        EditorView.lineWrapping,
      ],
    }),
  });

  // Outside the editor too: the shortcuts work wherever the focus is.
  document.addEventListener("keydown", (event) => {
    if (view.hasFocus || !(event.ctrlKey || event.metaKey)) return;
    if (event.key === "s") event.preventDefault(), save();
    if (event.key === "Enter") event.preventDefault(), run();
  });
  $("program").addEventListener("change", (event) => event.target.value && openProgram(event.target.value));
  $("run").addEventListener("click", run);
  $("save").addEventListener("click", () => save());
  $("save-draft").addEventListener("click", () => save(true));
  $("cancel").addEventListener("click", () => state.run && api("/api/cancel", { run: state.run }));
  $("upload").addEventListener("change", (event) => event.target.files[0] && upload(event.target.files[0]));

  window.rewardrules = { view };
  await loadFiles();
  const first = new URLSearchParams(location.search).get("program");
  if (first) {
    $("program").value = first;
    await openProgram(first);
  }
  document.body.dataset.ready = "true";
}

main().catch((error) => say(`The page could not start: ${error.message}`, true));
