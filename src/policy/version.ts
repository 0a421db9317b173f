// Version ordering for "is this offer newer than what runs?". Pure.
//
// compareVersions(a, b) returns -1, 0 or 1:
// - a leading "v" and build metadata after "+" are ignored ("v1.2+b7" = "1.2");
// - the part before the first "-" is the core, compared dot by dot; missing parts are 0
//   ("1.0" = "1.0.0"); each part compares naturally, digit runs as numbers ("1.10" > "1.9");
// - with equal cores, a version without a suffix is newer than one with ("1.0" > "1.0-rc1",
//   as in semver), and two suffixes compare naturally ("2026.11.24-nightly" <
//   "2026.11.25-nightly"; "1.0-rc2" < "1.0-rc10");
// - within a natural comparison a digit run sorts below letters (semver's rule for
//   prerelease identifiers) and a shorter run of pieces sorts first.

type Piece = bigint | string;

// "rc10b" → ["rc", 10n, "b"]; digit runs are BigInts so long date stamps stay exact; separators (. - _ ~) only split.
function pieces(text: string): Piece[] {
  return (text.match(/\d+|[^\d.\-_~]+/g) ?? []).map((p) => (/^\d/.test(p) ? BigInt(p) : p.toLowerCase()));
}

function comparePiece(a: Piece, b: Piece): number {
  if (typeof a !== typeof b) return typeof a === "bigint" ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

// Natural order of two piece lists; `pad` fills the shorter one (0 for cores).
function compareList(a: Piece[], b: Piece[], pad?: Piece): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? pad;
    const y = b[i] ?? pad;
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const c = comparePiece(x, y);
    if (c !== 0) return c;
  }
  return 0;
}

function split(version: string): { core: Piece[]; suffix?: Piece[] } {
  const bare = version.trim().replace(/^v(?=\d)/i, "").split("+")[0]!;
  const dash = bare.indexOf("-");
  if (dash < 0) return { core: pieces(bare) };
  return { core: pieces(bare.slice(0, dash)), suffix: pieces(bare.slice(dash + 1)) };
}

/** -1 when a is older than b, 1 when newer, 0 when the same version. */
export function compareVersions(a: string, b: string): -1 | 0 | 1 {
  const x = split(a);
  const y = split(b);
  let c = compareList(x.core, y.core, 0n);
  if (c === 0 && (x.suffix || y.suffix)) {
    if (!x.suffix) c = 1;
    else if (!y.suffix) c = -1;
    else c = compareList(x.suffix, y.suffix);
  }
  return c as -1 | 0 | 1;
}
