export declare const GO_PEER_DIR: string;
export declare function findGo(): string | undefined;
export declare function goPeerBinaryPath(): string;
export declare function ensureGoPeer(o?: { log?: (line: string) => void }): Promise<{ ok: true; path: string; built: boolean } | { ok: false; reason: string; goMissing: boolean }>;
export declare function goPeerArgs(o: { port: number; certFile: string; keyFile: string; manifests?: string }): string[];
