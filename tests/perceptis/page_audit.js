// Accessibility basics of the loaded page, measured in the page itself (no network, no axe):
// the contrast of every visible text (WCAG 2.x relative luminance, 4.5:1, 3:1 for large text),
// the same for each focusable control while it has keyboard focus, a visible outline on focus,
// and a label for every form control (``access``). With ``design`` (the site's own pages, not
// Django's admin) the design system's rules: no browser-default control, labels without colons,
// sentence case. Returns a list of problems, each naming the element.
(options) => {
  const { access = true, design = false } = options || {};
  const problems = [];

  // --- Colours ---------------------------------------------------------------------------
  const parse = (value) => {
    const match = /rgba?\(([^)]+)\)/.exec(value || "");
    if (!match) return null;
    const parts = match[1].split(/[\s,/]+/).filter(Boolean).map(Number);
    return [parts[0], parts[1], parts[2], parts.length > 3 ? parts[3] : 1];
  };
  const over = (top, below) => {
    const a = top[3];
    return [0, 1, 2].map((i) => top[i] * a + below[i] * (1 - a)).concat([1]);
  };
  const channel = (v) => {
    const c = v / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  const luminance = (rgb) => 0.2126 * channel(rgb[0]) + 0.7152 * channel(rgb[1]) + 0.0722 * channel(rgb[2]);
  const ratio = (a, b) => {
    const [light, dark] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (light + 0.05) / (dark + 0.05);
  };
  const hex = (rgb) => "#" + rgb.slice(0, 3).map((v) => Math.round(v).toString(16).padStart(2, "0")).join("");

  // The colour behind ``element``: its own background and its ancestors', alpha-blended, up to
  // the first opaque one (the canvas is white).
  const backdrop = (element) => {
    const layers = [];
    for (let node = element; node && node.nodeType === 1; node = node.parentElement) {
      const colour = parse(getComputedStyle(node).backgroundColor);
      if (colour && colour[3] > 0) {
        layers.push(colour);
        if (colour[3] >= 1) break;
      }
    }
    return layers.reduceRight((below, layer) => over(layer, below), [255, 255, 255, 1]);
  };
  const opacity = (element) => {
    let product = 1;
    for (let node = element; node && node.nodeType === 1; node = node.parentElement) {
      product *= Number(getComputedStyle(node).opacity);
    }
    return product;
  };

  // --- Which elements count --------------------------------------------------------------
  const describe = (element) => {
    let name = element.tagName.toLowerCase();
    if (element.id) name += "#" + element.id;
    const classes = typeof element.className === "string" ? element.className.trim() : "";
    if (classes) name += "." + classes.split(/\s+/).join(".");
    const text = (element.innerText || element.value || element.getAttribute("aria-label") || "").trim().replace(/\s+/g, " ");
    return text ? `${name} "${text.slice(0, 50)}"` : name;
  };
  // Hidden for everyone, or clipped to a pixel for screen readers only.
  const shown = (element) => {
    if (!element.checkVisibility({ opacityProperty: true, visibilityProperty: true })) return false;
    for (let node = element; node && node.nodeType === 1; node = node.parentElement) {
      const style = getComputedStyle(node);
      const box = node.getBoundingClientRect();
      if (style.overflow !== "visible" && (box.width <= 1 || box.height <= 1)) return false;
      if (style.clip && style.clip !== "auto") return false;
    }
    const box = element.getBoundingClientRect();
    return box.right > 0 && box.bottom > -window.scrollY && box.width > 0 && box.height > 0;
  };
  // WCAG: text of a disabled control needs no contrast.
  const disabled = (element) => !!element.closest(":disabled, [aria-disabled='true']");
  const large = (style) => {
    const size = parseFloat(style.fontSize);
    return size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
  };

  const seen = new Set();
  const checkText = (element, state, pseudo) => {
    const key = element;
    if (!pseudo && state === "" && seen.has(key)) return;
    if (!pseudo && state === "") seen.add(key);
    if (disabled(element)) return;
    const style = getComputedStyle(element, pseudo || null);
    let colour = parse(element instanceof SVGElement ? style.fill : style.color);
    if (!colour) return;
    const background = backdrop(element);
    colour = [colour[0], colour[1], colour[2], colour[3] * opacity(element)];
    const foreground = over(colour, background);
    const measured = ratio(foreground, background);
    const needed = large(style) ? 3 : 4.5;
    if (measured + 1e-6 < needed) {
      problems.push(
        `contrast${state}: ${describe(element)}${pseudo || ""} text ${hex(foreground)} on ${hex(background)} ` +
          `is ${measured.toFixed(2)}:1, needs ${needed}:1`
      );
    }
  };
  const checkTextWithin = (root, state) => {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    const parents = new Set();
    if (root.nodeType === 1 && ["INPUT", "SELECT", "TEXTAREA"].includes(root.tagName)) parents.add(root);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (node.textContent.trim() && node.parentElement) parents.add(node.parentElement);
    }
    for (const element of parents) {
      if (["SCRIPT", "STYLE", "NOSCRIPT", "TITLE", "OPTION", "OPTGROUP"].includes(element.tagName)) continue;
      if (element.closest("svg") && !(element instanceof SVGTextContentElement)) continue;
      if (!shown(element)) continue;
      checkText(element, state);
    }
  };

  if (access) {
    // Every visible text, form controls' values and placeholders, and generated labels.
    checkTextWithin(document.body, "");
    for (const control of document.querySelectorAll("input, select, textarea")) {
      if (["hidden", "checkbox", "radio", "range", "color", "file", "image"].includes(control.type)) continue;
      if (!shown(control)) continue;
      if (control.value || control.tagName === "SELECT") checkText(control, "");
      else if (control.placeholder) checkText(control, "", "::placeholder");
    }
    for (const element of document.body.querySelectorAll("*")) {
      for (const pseudo of ["::before", "::after"]) {
        const content = getComputedStyle(element, pseudo).content;
        if (!content || content === "none" || content === "normal" || /^["']\s*["']$/.test(content)) continue;
        if (shown(element)) checkText(element, "", pseudo);
      }
    }

    // --- Focus: a visible outline, and the focused text still readable -----------------------
    const focusLook = (element) => {
      const style = getComputedStyle(element);
      return {
        outline: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 1 ? style.outlineColor : null,
        shadow: style.boxShadow,
        border: style.borderColor,
        background: style.backgroundColor,
      };
    };
    const focusable = document.querySelectorAll(
      "a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]:not([tabindex='-1'])"
    );
    for (const element of focusable) {
      if (disabled(element)) continue;
      const before = focusLook(element);
      element.focus({ preventScroll: true });
      if (document.activeElement !== element) continue;
      if (!shown(element)) {
        element.blur();
        continue;
      }
      const after = focusLook(element);
      const visible =
        (after.outline && after.outline !== before.outline) ||
        (after.outline && !before.outline) ||
        (after.shadow !== before.shadow && after.shadow !== "none");
      if (!visible) {
        problems.push(`focus: ${describe(element)} shows no outline when focused`);
      } else if (after.outline) {
        const ring = parse(after.outline);
        const around = backdrop(element.parentElement || element);
        const measured = ratio(over(ring, around), around);
        if (measured < 3) {
          problems.push(`focus: ${describe(element)} outline ${hex(ring)} on ${hex(around)} is ${measured.toFixed(2)}:1, needs 3:1`);
        }
      }
      checkTextWithin(element, " (focused)");
      if (["INPUT", "SELECT", "TEXTAREA"].includes(element.tagName) && (element.value || element.tagName === "SELECT")) {
        checkText(element, " (focused)");
      }
      element.blur();
    }

    // --- Labels ----------------------------------------------------------------------------
    const name = (element) => {
      const texts = [];
      for (const label of element.labels || []) {
        texts.push(label.innerText);
        for (const image of label.querySelectorAll("img[alt]")) texts.push(image.alt);
      }
      texts.push(element.getAttribute("aria-label") || "");
      for (const id of (element.getAttribute("aria-labelledby") || "").split(/\s+/).filter(Boolean)) {
        texts.push(document.getElementById(id)?.innerText || "");
      }
      return texts.join(" ").trim();
    };
    for (const control of document.querySelectorAll("input, select, textarea")) {
      if (["hidden", "submit", "button", "reset", "image"].includes(control.type)) continue;
      if (!control.checkVisibility()) continue;
      if (!name(control)) problems.push(`label: ${describe(control)} name=${control.name} has no label`);
    }
  }

  if (!design) return problems;

  // --- The design system ---------------------------------------------------------------------
  // Chromium's own look: a grey "buttonface" background, outset or inset borders, a native
  // drop-down. Checkboxes and radios keep their native shape in the brand colour (accent-color).
  for (const control of document.querySelectorAll("button, input, select, textarea")) {
    if (["hidden", "checkbox", "radio"].includes(control.type) || !shown(control)) continue;
    const style = getComputedStyle(control);
    const native =
      style.backgroundColor === "rgb(239, 239, 239)" ||
      ["outset", "inset"].includes(style.borderTopStyle) ||
      (control.tagName === "SELECT" && style.appearance !== "none");
    if (native && !control.classList.contains("link")) {
      problems.push(`design: ${describe(control)} is a browser-default control`);
    }
  }
  // Words written in capitals everywhere (names, acronyms) are not title case.
  const proper = new Set(["Perceptis", "Chrome", "Chromium", "Firefox", "Safari", "Edge", "Linux",
    "Windows", "Android", "Slack", "Org", "Enter", "UTC", "Python", "Unkey", "Stripe", "OpenAI"]);
  const labels = "h1, h2, h3, h4, label, legend, th, summary, button, .btn, dt, .stat-label";
  for (const element of document.querySelectorAll(labels)) {
    if (!shown(element)) continue;
    // A status badge beside a heading is a word of its own, not part of the heading's case.
    const copy = element.cloneNode(true);
    for (const badge of copy.querySelectorAll(".badge, .tag")) badge.remove();
    const text = copy.textContent.trim().replace(/\s+/g, " ");
    if (/:$/.test(text) && element.tagName !== "BUTTON") {
      problems.push(`design: ${describe(element)} ends with a colon`);
    }
    const words = text.split(" ").slice(1).filter((w) => /^[A-Za-z][a-z]+$/.test(w) && !proper.has(w));
    if (words.length && words.every((w) => /^[A-Z]/.test(w)) && !element.closest("[data-user-text]")) {
      problems.push(`design: ${describe(element)} is in title case, not sentence case`);
    }
  }
  return problems;
}
