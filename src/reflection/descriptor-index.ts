import type { DescExtension, DescFile, DescMessage, DescService } from "@bufbuild/protobuf";

/**
 * The proto files behind a set of services, with what reflection clients ask for: files by
 * name, the file that declares a symbol, and the extensions of a message type.
 */
export class DescriptorIndex {
  private readonly files = new Map<string, DescFile>();
  private readonly symbols = new Map<string, DescFile>();
  private readonly extensions = new Map<string, DescExtension[]>();
  readonly serviceNames: readonly string[];

  constructor(services: readonly DescService[]) {
    this.serviceNames = [...new Set(services.map((service) => service.typeName))];
    for (const service of services) this.addFile(service.file);
  }

  fileByName(name: string): DescFile | undefined {
    return this.files.get(name);
  }

  /** Messages, enums, services, methods (`pkg.Service.Method`), fields and extensions by full name. */
  fileContainingSymbol(symbol: string): DescFile | undefined {
    return this.symbols.get(symbol.startsWith(".") ? symbol.slice(1) : symbol);
  }

  extensionsOf(typeName: string): readonly DescExtension[] {
    return this.extensions.get(typeName) ?? [];
  }

  /** The file and every file it imports, transitively, dependencies first. */
  withDependencies(file: DescFile): DescFile[] {
    const ordered: DescFile[] = [];
    const seen = new Set<string>();
    const visit = (current: DescFile): void => {
      if (seen.has(current.name)) return;
      seen.add(current.name);
      for (const dependency of current.dependencies) visit(dependency);
      ordered.push(current);
    };
    visit(file);
    return ordered;
  }

  private addFile(file: DescFile): void {
    const name = `${file.proto.name}`;
    if (this.files.has(name)) return;
    this.files.set(name, file);
    for (const dependency of file.dependencies) this.addFile(dependency);
    for (const message of file.messages) this.addMessage(file, message);
    for (const enumeration of file.enums) this.symbols.set(enumeration.typeName, file);
    for (const extension of file.extensions) this.addExtension(file, extension);
    for (const service of file.services) {
      this.symbols.set(service.typeName, file);
      for (const method of service.methods) this.symbols.set(`${service.typeName}.${method.name}`, file);
    }
  }

  private addMessage(file: DescFile, message: DescMessage): void {
    this.symbols.set(message.typeName, file);
    for (const field of message.fields) this.symbols.set(`${message.typeName}.${field.name}`, file);
    for (const nested of message.nestedMessages) this.addMessage(file, nested);
    for (const enumeration of message.nestedEnums) this.symbols.set(enumeration.typeName, file);
    for (const extension of message.nestedExtensions) this.addExtension(file, extension);
  }

  private addExtension(file: DescFile, extension: DescExtension): void {
    this.symbols.set(extension.typeName, file);
    const list = this.extensions.get(extension.extendee.typeName) ?? [];
    list.push(extension);
    this.extensions.set(extension.extendee.typeName, list);
  }
}
