// Applies the saved theme before the first paint, so a dark page never flashes white.
(function () {
  try {
    var choice = localStorage.getItem("warren.theme");
    var dark = choice === "dark" || (choice !== "light" && window.matchMedia("(prefers-color-scheme: dark)").matches);
    document.documentElement.classList.toggle("dark", dark);
    document.documentElement.style.colorScheme = dark ? "dark" : "light";
  } catch (e) {
    /* storage disabled: follow the system */
  }
})();
