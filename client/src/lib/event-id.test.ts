import { describe, expect, it } from "vitest";
import { compareEventIds, isAtOrBefore } from "./event-id";

describe("compareEventIds", () => {
  it("orders plain integers numerically, not as text", () => {
    expect(compareEventIds("9", "10")).toBeLessThan(0);
    expect(compareEventIds("10", "9")).toBeGreaterThan(0);
    expect(compareEventIds("12", "12")).toBe(0);
    expect(compareEventIds("007", "7")).toBe(0);
  });

  it("orders Redis stream ids part by part", () => {
    expect(compareEventIds("1716900000000-3", "1716900000000-10")).toBeLessThan(0);
    expect(compareEventIds("1716900000001-0", "1716900000000-99")).toBeGreaterThan(0);
    expect(compareEventIds("1716900000000-3", "1716900000000-3")).toBe(0);
    expect(compareEventIds("5", "5-1")).toBeLessThan(0);
  });

  it("handles integers beyond 2^53", () => {
    expect(compareEventIds("90071992547409931", "90071992547409932")).toBeLessThan(0);
  });

  it("treats nothing-yet as before everything", () => {
    expect(isAtOrBefore("1", null)).toBe(false);
    expect(isAtOrBefore("3", "3")).toBe(true);
    expect(isAtOrBefore("2", "3")).toBe(true);
    expect(isAtOrBefore("4", "3")).toBe(false);
  });
});
