// Types of compiled.cjs (plain JavaScript: the bin runs it before tsx is loaded).
export declare const BUILD_STAMP: string;
export declare const BUILD_DIR: string;
export declare function compiledMain(root: string): string | null;
export declare function buildIfStale(root: string, log: (line: string) => void): boolean;
