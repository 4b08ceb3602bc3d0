declare module "async-exit-hook" {
  const hook: (fn: () => void) => void;
  export default hook;
}
