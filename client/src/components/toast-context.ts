import { createContext, useContext } from "react";

export type ToastTone = "error" | "success" | "info";

export interface ToastInput {
  title: string;
  detail?: string;
  tone?: ToastTone;
}

export type ShowToast = (toast: ToastInput) => void;

export const ToastContext = createContext<ShowToast>(() => undefined);

export function useToast(): ShowToast {
  return useContext(ToastContext);
}
