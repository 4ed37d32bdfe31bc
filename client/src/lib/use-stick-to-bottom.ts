/** Keep a scroll container pinned to its bottom while content grows, unless the reader scrolled up. */

import { useCallback, useEffect, useRef, useState, type RefObject } from "react";

const NEAR_BOTTOM_PX = 96;

export function useStickToBottom(
  scrollRef: RefObject<HTMLElement | null>,
  contentRef: RefObject<HTMLElement | null>,
): { pinned: boolean; scrollToBottom: (smooth?: boolean) => void } {
  const [pinned, setPinned] = useState(true);
  const pinnedRef = useRef(true);

  const scrollToBottom = useCallback(
    (smooth = false) => {
      const box = scrollRef.current;
      if (!box) return;
      box.scrollTo({ top: box.scrollHeight, behavior: smooth ? "smooth" : "auto" });
      pinnedRef.current = true;
      setPinned(true);
    },
    [scrollRef],
  );

  useEffect(() => {
    const box = scrollRef.current;
    const content = contentRef.current;
    if (!box || !content) return;
    const onScroll = () => {
      const near = box.scrollHeight - box.scrollTop - box.clientHeight < NEAR_BOTTOM_PX;
      if (near !== pinnedRef.current) {
        pinnedRef.current = near;
        setPinned(near);
      }
    };
    const observer = new ResizeObserver(() => {
      if (pinnedRef.current) box.scrollTop = box.scrollHeight;
    });
    observer.observe(content);
    box.addEventListener("scroll", onScroll, { passive: true });
    box.scrollTop = box.scrollHeight;
    return () => {
      observer.disconnect();
      box.removeEventListener("scroll", onScroll);
    };
  }, [scrollRef, contentRef]);

  return { pinned, scrollToBottom };
}
