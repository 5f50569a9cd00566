// The farm dashboard (filled in next).
import { requireLogin } from "./api.js";

requireLogin();
