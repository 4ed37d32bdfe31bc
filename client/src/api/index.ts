/** The app's one API client, bound to this browser's token storage. */

import { ApiClient } from "./client";
import { createWarrenApi } from "./endpoints";
import { memoryTokenStore, storageTokenStore } from "./token-store";

function tokenStore() {
  try {
    localStorage.getItem("warren.probe");
    return storageTokenStore(localStorage);
  } catch {
    return memoryTokenStore(); // storage disabled: the session lasts as long as the page
  }
}

export const apiClient = new ApiClient({ tokens: tokenStore() });
export const api = createWarrenApi(apiClient);

export { ApiError, errorMessage, isAbortError } from "./errors";
export type * from "./types";
