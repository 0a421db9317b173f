// `otter completion bash`: a bash completion script made from the table in commands.ts, so
// it offers exactly the commands, options and argument values the parser takes.
import { COMMANDS, FLAGS, flagsOf, spellings, spellingsIn, type CommandSpec, type Flag } from "./commands.ts";

// Words go into the script unquoted: a table entry that is not a plain word is a bug here.
function words(list: readonly string[]): string {
  for (const w of list) if (!/^[A-Za-z0-9@_.-]+$/.test(w)) throw new Error(`completion: "${w}" is not a plain word`);
  return list.join(" ");
}

// The option sets the script looks up, per command ("-": before a command, where the
// shared options and run's are offered and only the shared ones take a value).
function sets(): { key: string; command: CommandSpec; taken: Flag[] }[] {
  const run = (COMMANDS as readonly CommandSpec[]).find((c) => c.default)!;
  return [
    { key: "-", command: run, taken: FLAGS.filter((f) => !Array.isArray(f.for)) },
    ...(COMMANDS as readonly CommandSpec[]).map((c) => ({ key: c.name, command: c, taken: flagsOf(c) })),
  ];
}

/** The script `otter completion bash` prints. */
export function bashCompletion(): string {
  const table = (pick: (s: ReturnType<typeof sets>[number]) => string[]) => sets().map((s) => `[${s.key}]="${words(pick(s))}"`).join("\n    ");
  const offered = table((s) => flagsOf(s.command).flatMap((f) => spellingsIn(s.command, f)));
  const valued = table((s) => s.taken.filter((f) => f.value).flatMap(spellings));
  const paths = table((s) => s.taken.filter((f) => f.file).flatMap(spellings));
  const args = (COMMANDS as readonly CommandSpec[]).flatMap((c) => c.args.map((a, n) => `[${c.name}:${n}]="${a.file ? "@path" : words(a.choices ?? [])}"`)).join("\n    ");
  return `# bash completion for otter, made by \`otter completion bash\` from otter's table of
# commands and options. Load it with: source <(otter completion bash)
# or install it: otter completion bash > /etc/bash_completion.d/otter
_otter() {
  local cur=\${COMP_WORDS[COMP_CWORD]} cmd=- n=0 i w
  local commands="${words(COMMANDS.map((c) => c.name))}"
  # per command ("-": none yet): the options offered, those taking a value, those whose value is a path
  local -A offered=(
    ${offered}
  )
  local -A valued=(
    ${valued}
  )
  local -A paths=(
    ${paths}
  )
  # the positional arguments: a path, or the words each may be
  local -A args=(
    ${args}
  )
  COMPREPLY=()
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=\${COMP_WORDS[i]}
    if [[ " \${valued[$cmd]} " == *" $w "* ]]; then
      if ((i + 1 == COMP_CWORD)); then
        # the word being completed is this option's value: a path, or nothing to offer
        if [[ " \${paths[$cmd]} " == *" $w "* ]]; then
          compopt -o filenames 2>/dev/null
          mapfile -t COMPREPLY < <(compgen -f -- "$cur")
        fi
        return 0
      fi
      ((i++))
    elif [[ $w == -* ]]; then
      :
    elif [[ $cmd == - ]]; then
      cmd=$w
      [[ -n \${offered[$cmd]+set} ]] || return 0
    else
      ((n++))
    fi
  done
  if [[ $cur == -* ]]; then
    mapfile -t COMPREPLY < <(compgen -W "\${offered[$cmd]}" -- "$cur")
  elif [[ $cmd == - ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$commands" -- "$cur")
  elif [[ \${args[$cmd:$n]-} == @path ]]; then
    compopt -o filenames 2>/dev/null
    mapfile -t COMPREPLY < <(compgen -f -- "$cur")
  elif [[ -n \${args[$cmd:$n]-} ]]; then
    mapfile -t COMPREPLY < <(compgen -W "\${args[$cmd:$n]}" -- "$cur")
  fi
  return 0
}
complete -F _otter otter
`;
}
