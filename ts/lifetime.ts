/**
 * The key of `[Symbol.dispose]()` on every native handle (Tensor, Module, Stcn, StcnTracker):
 * `Symbol.dispose` where the runtime has it (Node.js >= 20.11 / TypeScript `using`), else the
 * registry symbol Node.js uses for it.
 */
export const disposeSymbol: symbol = (Symbol as { dispose?: symbol }).dispose ?? Symbol.for("nodejs.dispose");
