/** The CLI's only way to Stackwire: the HTTP API. */
export class ApiRequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export class ApiUnreachableError extends Error {}

export class ApiClient {
  constructor(
    readonly baseUrl: string,
    private readonly headers: Record<string, string>,
  ) {}

  async request<T>(method: string, path: string, body?: unknown, extraHeaders: Record<string, string> = {}): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: { ...this.headers, ...extraHeaders, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
      throw new ApiUnreachableError(
        `cannot reach the Stackwire API at ${this.baseUrl} (${cause}). Start it with 'npm start', or point --api / STACKWIRE_API_URL at a running one.`,
      );
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : {};
    } catch {
      throw new ApiRequestError(res.status, 'bad_response', `the API answered ${res.status} with something that is not JSON: ${text.slice(0, 200)}`);
    }
    if (!res.ok) {
      const e = (json as { error?: { code?: string; message?: string; details?: unknown } }).error;
      throw new ApiRequestError(res.status, e?.code ?? 'error', e?.message ?? `HTTP ${res.status}`, e?.details);
    }
    return json as T;
  }
}
