// Minimal typing of the mvdan-sh package (GopherJS build of mvdan.cc/sh/v3/syntax):
// only the calls the shell classifier makes. Nodes are Go structs; their fields are read
// dynamically after `syntax.NodeType(node)` says what the node is.
declare module 'mvdan-sh' {
  type ShNode = Record<string, any>;
  const sh: {
    syntax: {
      NewParser(...opts: unknown[]): { Parse(src: string, name: string): ShNode };
      NodeType(node: unknown): string;
      Walk(node: ShNode, fn: (node: ShNode | null) => boolean): void;
      Variant(v: number): unknown;
      LangBash: number;
    };
  };
  export default sh;
}
