// The login page: exchange user name and password for tokens, then go back where the user came from.
import { ApiError, login, t } from "./api.js";

function nextPath() {
  const next = new URLSearchParams(location.search).get("next") || "/";
  // Only a path on this server (never //host or a scheme): no open redirect.
  return next.startsWith("/") && !next.startsWith("//") ? next : "/";
}

const form = document.getElementById("login-form");
const error = document.getElementById("login-error");
form.addEventListener("submit", async (submit) => {
  submit.preventDefault();
  error.hidden = true;
  try {
    await login(form.username.value, form.password.value);
    location.assign(nextPath());
  } catch (failure) {
    const status = failure instanceof ApiError ? failure.status : 0;
    error.textContent = status === 401 ? t("login_failed") : status === 429 ? t("login_throttled") : t("error_network");
    error.hidden = false;
  }
});
