import { messagingApi } from "@line/bot-sdk";
import { raceDeadline } from "../../../db/deadline.ts";

/**
 * The LINE Messaging API client (@line/bot-sdk) with a configurable base URL: the real
 * https://api.line.me in production (`LINE_API_BASE_URL`), a local fake in tests.
 */

/** LINE's own API host: the default of `LINE_API_BASE_URL`. */
export const LINE_API_DEFAULT_BASE_URL = "https://api.line.me";

/**
 * Where this process reaches the Messaging API. Set once at start from the configuration
 * (`useLineApiBaseUrl(config.lineApiBaseUrl)`); tests point it at their fake.
 */
let baseUrl = LINE_API_DEFAULT_BASE_URL;

/** Points every LINE call of this process at `url` (server start; tests: the fake). */
export function useLineApiBaseUrl(url: string): void {
  baseUrl = url.replace(/\/+$/, "");
}

/** The base URL LINE calls currently go to. */
export function lineApiBaseUrl(): string {
  return baseUrl;
}

/** A Messaging API client for one channel account's access token. */
export function lineClient(channelAccessToken: string, apiBaseUrl: string = baseUrl): messagingApi.MessagingApiClient {
  return new messagingApi.MessagingApiClient({ channelAccessToken, baseURL: apiBaseUrl });
}

/**
 * `promise`, or a rejection with `LineTimeout` after `ms`. The SDK's fetch takes no abort signal,
 * so a call that does not answer is abandoned (its socket closes when the server gives up).
 */
export function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  return raceDeadline(promise, ms, () => new LineTimeout(ms));
}

/** A LINE call that did not answer within its deadline. */
export class LineTimeout extends Error {
  constructor(readonly ms: number) {
    super(`LINE did not answer within ${ms} ms`);
    this.name = "LineTimeout";
  }
}
