import { h, mount } from "./dom.js";

export function render(root) {
  mount(root, h("p", { class: "muted" }, "Coming soon."));
}
