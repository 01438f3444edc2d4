// Completion and hover docs from the program's JSON Schema (served by the server at
// /schema.json, the same text as `rewardrules schema`). The YAML path at the cursor is
// worked out from indentation, which is how marketers write these files.

const KEY_LINE = /^(\s*)((?:-\s+)*)([A-Za-z_][\w-]*)\s*:(.*)$/;

function lineInfo(text) {
  const match = KEY_LINE.exec(text);
  const lead = /^(\s*)((?:-\s+)*)/.exec(text);
  const dashAt = lead[2] ? lead[1].length : -1;
  const content = lead[0].length;
  if (!match) return { dashAt, content, key: null, value: null };
  const value = match[4].replace(/\s+#.*$/, "").trim();
  return { dashAt, content, key: match[3], value };
}

function blank(text) {
  return /^\s*(#.*)?$/.test(text);
}

// The keys and list items above position (line index, indentation), outermost first.
export function pathAbove(lines, lineIndex, indent) {
  const path = [];
  const items = [];
  for (let j = lineIndex - 1; j >= 0 && indent > 0; j--) {
    if (blank(lines[j])) continue;
    const info = lineInfo(lines[j]);
    if (info.content < indent && info.key !== null && info.value === "") {
      path.unshift(info.key);
      indent = info.content;
      if (info.dashAt >= 0 && info.dashAt < indent) {
        path.unshift("[]");
        items.unshift(j);
        indent = info.dashAt;
      }
    } else if (info.dashAt >= 0 && info.dashAt < indent) {
      path.unshift("[]");
      items.unshift(j);
      indent = info.dashAt;
    } else if (info.content < indent) {
      indent = info.content;
    }
  }
  return { path, items };
}

// The `kind:` written in the list item that starts at line `start`.
function kindOfItem(lines, start) {
  const first = lineInfo(lines[start]);
  for (let j = start; j < lines.length; j++) {
    if (j > start && !blank(lines[j])) {
      const info = lineInfo(lines[j]);
      if (info.content < first.content || (info.dashAt >= 0 && info.dashAt <= first.dashAt)) break;
    }
    const info = lineInfo(lines[j]);
    if (info.key === "kind" && info.content === first.content) return info.value;
  }
  return null;
}

export class SchemaGuide {
  constructor(schema) {
    this.schema = schema;
  }

  deref(node) {
    while (node && node.$ref) {
      node = this.schema.definitions[node.$ref.split("/").pop()];
    }
    return node || {};
  }

  variants(node) {
    return (node.allOf || []).filter((part) => part.if && part.then).map((part) => ({
      kind: part.if.properties.kind.const,
      node: this.deref(part.then),
    }));
  }

  choose(node, kind) {
    node = this.deref(node);
    const variants = this.variants(node);
    if (!variants.length) return node;
    const found = variants.find((variant) => variant.kind === kind);
    if (found) return found.node;
    const properties = {};
    for (const variant of variants) Object.assign(properties, variant.node.properties);
    return { properties, kinds: variants };
  }

  // The schema of the mapping that holds the keys at the end of `path`.
  nodeAt(path, items, lines) {
    let node = this.deref(this.schema);
    let item = 0;
    for (const step of path) {
      node = this.deref(node);
      if (step === "[]") {
        const start = items[item++];
        node = this.choose(node.items, kindOfItem(lines, start));
      } else {
        const properties = this.choose(node).properties || {};
        node = properties[step];
        if (!node) return null;
        node = this.deref(node);
        if (node.anyOf) node = this.deref(node.anyOf.find((part) => part.type !== "null") || node);
      }
    }
    return this.choose(node);
  }

  kinds() {
    return this.variants(this.deref(this.schema.definitions.Rule)).map((variant) => ({
      label: variant.kind,
      info: variant.node.description || "",
    }));
  }
}

function values(node) {
  if (!node) return [];
  if (node.enum) return node.enum.map(String);
  if (node.const !== undefined) return [String(node.const)];
  if (node.type === "boolean") return ["true", "false"];
  return [];
}

export function completionSource(guide) {
  return (context) => {
    const doc = context.state.doc;
    const line = doc.lineAt(context.pos);
    const before = line.text.slice(0, context.pos - line.from);
    const lines = doc.toString().split("\n");
    const valueMatch = /^(\s*)((?:-\s+)*)([A-Za-z_][\w-]*)\s*:\s*([\w.-]*)$/.exec(before);
    if (valueMatch) {
      const indent = valueMatch[1].length + valueMatch[2].length;
      const { path, items } = pathAbove(lines, line.number - 1, indent + 1);
      const key = valueMatch[3];
      const from = context.pos - valueMatch[4].length;
      if (key === "kind" && path[path.length - 1] === "[]" && path[0] === "rules") {
        return { from, options: guide.kinds().map((kind) => ({ ...kind, type: "enum" })) };
      }
      const holder = guide.nodeAt(path, items, lines);
      const node = holder && holder.properties ? guide.deref(holder.properties[key]) : null;
      const options = values(node).map((label) => ({ label, type: "enum" }));
      return options.length ? { from, options } : null;
    }
    const keyMatch = /^(\s*)((?:-\s+)*)([A-Za-z_][\w-]*)?$/.exec(before);
    if (!keyMatch) return null;
    if (!keyMatch[3] && !context.explicit) return null;
    const indent = keyMatch[1].length + keyMatch[2].length;
    const { path, items } = pathAbove(lines, line.number - 1, indent);
    if (keyMatch[2]) path.push("[]"), items.push(line.number - 1);
    const holder = guide.nodeAt(path, items, lines);
    if (!holder || !holder.properties) return null;
    const options = Object.entries(holder.properties).map(([label, node]) => ({
      label,
      type: "property",
      detail: (guide.deref(node).type || "").toString(),
      info: guide.deref(node).description || node.description || "",
      apply: label + ": ",
    }));
    return { from: context.pos - (keyMatch[3] || "").length, options, validFor: /^[\w-]*$/ };
  };
}

// The description of the key (or the kind) under `pos`, or null.
export function describe(guide, doc, pos) {
  const line = doc.lineAt(pos);
  const info = lineInfo(line.text);
  if (info.key === null) return null;
  const lines = doc.toString().split("\n");
  const keyStart = line.from + info.content;
  const onKey = pos >= keyStart && pos <= keyStart + info.key.length;
  const { path, items } = pathAbove(lines, line.number - 1, info.content);
  if (info.dashAt >= 0) path.push("[]"), items.push(line.number - 1);
  if (!onKey && info.key === "kind") {
    const kind = guide.kinds().find((found) => found.label === info.value);
    return kind ? { from: keyStart, title: `kind: ${kind.label}`, text: kind.info } : null;
  }
  if (!onKey) return null;
  const holder = guide.nodeAt(path, items, lines);
  const node = holder && holder.properties && holder.properties[info.key];
  if (!node) return null;
  const text = node.description || guide.deref(node).description || "";
  return { from: keyStart, to: keyStart + info.key.length, title: info.key, text };
}
