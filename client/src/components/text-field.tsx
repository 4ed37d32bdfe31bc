import { useId, type InputHTMLAttributes } from "react";
import { cn } from "../lib/cn";
import { inputClass } from "./styles";

interface TextFieldProps extends InputHTMLAttributes<HTMLInputElement> {
  label: string;
  hint?: string;
  error?: string | null;
}

export function TextField({ label, hint, error, className, id, ...rest }: TextFieldProps) {
  const generated = useId();
  const inputId = id ?? generated;
  const hintId = `${inputId}-hint`;
  return (
    <div className={cn("flex flex-col gap-1.5", className)}>
      <label htmlFor={inputId} className="text-sm font-medium text-zinc-800 dark:text-zinc-200">
        {label}
      </label>
      <input
        id={inputId}
        aria-invalid={error ? true : undefined}
        aria-describedby={hint || error ? hintId : undefined}
        className={cn(inputClass, error && "border-red-500 focus:border-red-500 focus:ring-red-500/25")}
        {...rest}
      />
      {(error ?? hint) && (
        <p id={hintId} className={cn("text-xs", error ? "text-red-600 dark:text-red-400" : "text-zinc-500")}>
          {error ?? hint}
        </p>
      )}
    </div>
  );
}
