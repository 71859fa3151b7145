// The last lines a child process wrote, bounded in count and length (what an error shows of it).

export class LastLines {
  private readonly lines: string[] = [];
  private partial = "";

  constructor(
    private readonly maxLines = 40,
    private readonly maxLineLength = 400,
  ) {}

  push(chunk: string): void {
    const text = this.partial + chunk;
    const parts = text.split("\n");
    this.partial = (parts.pop() ?? "").slice(0, this.maxLineLength);
    for (const p of parts) this.add(p);
  }

  private add(line: string): void {
    const l = line.replace(/\r$/, "");
    this.lines.push(l.length > this.maxLineLength ? `${l.slice(0, this.maxLineLength)}...` : l);
    if (this.lines.length > this.maxLines) this.lines.shift();
  }

  /** The complete lines, then the unfinished one if any. */
  get(): string[] {
    return this.partial === "" ? [...this.lines] : [...this.lines, this.partial];
  }
}
