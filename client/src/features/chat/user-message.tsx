import { memo } from "react";

export const UserMessage = memo(function UserMessage({ text }: { text: string }) {
  return (
    <div className="flex justify-end">
      <div className="max-w-[85%] rounded-2xl rounded-br-md bg-zinc-100 px-4 py-2.5 text-[15px] leading-relaxed break-words whitespace-pre-wrap dark:bg-zinc-800">
        <span className="sr-only">You said: </span>
        {text}
      </div>
    </div>
  );
});
