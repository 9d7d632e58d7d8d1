# Derivations for the ATerm parser fixtures in tests/data/drv/real/.
# Regenerate with tests/data/drv/make-real-drvs.sh (Debian's nix-bin 2.8,
# chroot store, no nixpkgs, no network). `mk` is the one from
# shared/reference/nix-drv.md §2.2, so hello/bad-leaf/mid/top have the same
# store paths as there.
let
  mk = name: script: derivation {
    inherit name;
    system = builtins.currentSystem;
    builder = "/bin/sh";
    args = [ "-c" script ];
  };
  mkWith = name: script: attrs: derivation ({
    inherit name;
    system = builtins.currentSystem;
    builder = "/bin/sh";
    args = [ "-c" script ];
  } // attrs);
in rec {
  hello = mk "hello" "echo hi > $out";
  badLeaf = mk "bad-leaf" "echo 'about to fail' >&2; exit 1";
  mid = mk "mid" "echo ${hello} ${badLeaf} > $out"; # interpolation => inputDrvs
  top = mk "top" "echo ${mid} > $out";

  # Several outputs; a consumer that wants only some of them.
  multi = mkWith "multi" "echo a > $out; echo b > $dev; echo c > $lib" {
    outputs = [ "out" "dev" "lib" ];
  };
  multiUser = mk "multi-user" "echo ${multi.dev} ${multi.lib} > $out";

  # Fixed-output derivations: flat and NAR (recursive) hashes of "hi\n".
  fixedFlat = mkWith "fixed-flat.txt" "echo hi > $out" {
    outputHashMode = "flat";
    outputHashAlgo = "sha256";
    outputHash = "98ea6e4f216f2fb4b69fff9b3a44842c38686ca685f3f55dc48c5d3fb1107be4";
  };
  fixedRecursive = mkWith "fixed-recursive" "echo hi > $out" {
    outputHashMode = "recursive";
    outputHash = "sha256-EFUdrtf6Rn0LWIJufrmg8q99aT3jGfLvd1//zaJEufY=";
  };

  # A builtins.toFile source: fills inputSrcs.
  withSrc = mk "with-src" "echo ${builtins.toFile "src.txt" "hello"} > $out";

  # __structuredAttrs: env holds "__json" plus the output variables.
  structured = mkWith "structured" "echo hi > $out" {
    __structuredAttrs = true;
    list = [ 1 "two" { three = 3; } ];
  };

  # An env value with every escaped byte, raw UTF-8 and a literal ${x}.
  escapes = mkWith "escapes" "echo hi > $out" {
    weird = "quote\" backslash\\ newline\n tab\t cr\r \${x} é ✓";
  };

  # Need --extra-experimental-features 'ca-derivations impure-derivations'.
  floating = mkWith "floating" "echo hi > $out" {
    __contentAddressed = true;
    outputHashMode = "recursive";
    outputHashAlgo = "sha256";
  };
  deferred = mk "deferred" "echo ${floating} > $out"; # input-addressed on a floating CA input
  impure = mkWith "impure" "echo hi > $out" {
    __impure = true;
    outputHashMode = "recursive";
    outputHashAlgo = "sha256";
  };
}
