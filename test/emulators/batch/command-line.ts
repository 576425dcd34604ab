/**
 * Splits a Batch command line into argv. Batch runs a command line without a shell (no variable
 * expansion, no pipes; shared/notes/AZURE-BATCH.md §3 "Task body": wrap in `/bin/sh -c '…'`),
 * so the emulator only honours quoting: '…' is literal, "…" allows \" and \\, a backslash outside
 * quotes escapes the next character.
 */
export function splitCommandLine(commandLine: string): string[] {
  const argv: string[] = [];
  let current = "";
  let inArg = false;
  let i = 0;
  while (i < commandLine.length) {
    const c = commandLine[i] ?? "";
    if (/\s/.test(c)) {
      if (inArg) argv.push(current);
      current = "";
      inArg = false;
      i += 1;
    } else if (c === "'") {
      const end = commandLine.indexOf("'", i + 1);
      if (end < 0) throw new Error("the command line has an unterminated single quote");
      current += commandLine.slice(i + 1, end);
      inArg = true;
      i = end + 1;
    } else if (c === '"') {
      i += 1;
      inArg = true;
      for (;;) {
        if (i >= commandLine.length) throw new Error("the command line has an unterminated double quote");
        const d = commandLine[i] ?? "";
        if (d === '"') {
          i += 1;
          break;
        }
        if (d === "\\" && (commandLine[i + 1] === '"' || commandLine[i + 1] === "\\")) {
          current += commandLine[i + 1];
          i += 2;
        } else {
          current += d;
          i += 1;
        }
      }
    } else if (c === "\\" && i + 1 < commandLine.length) {
      current += commandLine[i + 1];
      inArg = true;
      i += 2;
    } else {
      current += c;
      inArg = true;
      i += 1;
    }
  }
  if (inArg) argv.push(current);
  return argv;
}
