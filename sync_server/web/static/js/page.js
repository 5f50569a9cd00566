// Pages without their own script (the index): show who is logged in, if anyone.
import { loadSession, requireLogin } from "./api.js";

if (loadSession()) requireLogin();
