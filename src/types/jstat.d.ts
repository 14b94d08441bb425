// The part of jstat (https://github.com/jstat/jstat) that pai uses; the package ships no types.
declare module 'jstat' {
  interface StudentT {
    /** The quantile function of Student's t distribution with `dof` degrees of freedom. */
    inv(p: number, dof: number): number;
    cdf(x: number, dof: number): number;
  }
  const jStat: { studentt: StudentT };
  export default jStat;
}
