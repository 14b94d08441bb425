// The defaults of the mask-level analysis, apart from analysis.ts so that the CLI's help can show
// them without loading the library.

/** The probe counts K of the convergence check, by default. */
export const DEFAULT_PROBES: readonly number[] = [1, 2, 5, 10, 20, 50];
/** The reference probe count K_ref the masks of fewer probes are compared with, by default. */
export const DEFAULT_PROBE_REF = 200;
/** `--quick`: fewer probes and a smaller reference, for demonstrations. */
export const QUICK_PROBES: readonly number[] = [1, 2, 5];
/** `--quick`'s reference probe count. */
export const QUICK_PROBE_REF = 20;
/** The IoU with K_ref whose confidence-interval lower bound says "the mask stops changing", by default. */
export const DEFAULT_STABLE_IOU = 0.95;
