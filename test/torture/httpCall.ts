/**
 * One HTTP request for the torture and soak clients: the status and parsed
 * body, or a TransportError when no answer came (connection refused or reset
 * by a kill): then the request's outcome is unknown to the client.
 */
export class TransportError extends Error {}

export interface Answer {
  status: number;
  json: any;
  /** Client time the whole answer had arrived. */
  at: number;
}

export async function httpCall(baseUrl: string, method: string, path: string, body?: unknown, timeoutMs = 30_000): Promise<Answer> {
  const init: RequestInit = { method, signal: AbortSignal.timeout(timeoutMs) };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { 'content-type': 'application/json' };
  }
  let status: number;
  let text: string;
  try {
    const response = await fetch(baseUrl + path, init);
    status = response.status;
    text = await response.text();
  } catch (err) {
    throw new TransportError(`${method} ${path}: ${String((err as Error)?.cause ?? err)}`);
  }
  let json: any;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status, json, at: Date.now() };
}
