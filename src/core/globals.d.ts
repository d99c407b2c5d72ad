/** The few platform globals the pure core relies on; every target (browsers, webviews, Node) has them. */
declare class TextEncoder {
  encode(input?: string): Uint8Array;
}
declare class TextDecoder {
  constructor(label?: string);
  decode(input?: Uint8Array): string;
}
/** The high-resolution clock (browsers, workers and Node ≥ 16). */
declare const performance: { now(): number };
