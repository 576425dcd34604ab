import net from "node:net";
import { ProviderError } from "../provider-error.js";
import { redactUrl } from "../redact.js";

/** Host suffixes of Azure Blob endpoints (public and sovereign clouds). */
const BLOB_HOST_SUFFIXES = [".blob.core.windows.net", ".blob.core.chinacloudapi.cn", ".blob.core.usgovcloudapi.net", ".blob.storage.azure.net"];

/** Where an Azure Blob URL points, and how to authenticate to it. */
export interface BlobLocation {
  /** Account endpoint, e.g. https://acct.blob.core.windows.net or http://127.0.0.1:10000/devstoreaccount1 */
  endpoint: string;
  account: string;
  container: string;
  /** Blob name (or directory prefix), decoded; "" for the container itself. */
  blobPath: string;
  /** "?sv=...&sig=..." for SAS URLs, "" otherwise. */
  sas: string;
  /** az:// URLs authenticate with Entra ID (or a shared key); https URLs with their SAS, else anonymously (or as az:// when configured). */
  auth: "identity" | "sas-or-anonymous";
}

export interface BlobUrlSettings {
  endpointTemplate: string;
  pathStyleHosts: readonly string[];
  /** https blob URLs without a SAS authenticate like az:// ones (Entra ID or shared key), not anonymously. */
  identityForUrlsWithoutSas?: boolean;
}

/** True for https URLs on a blob endpoint host, and for URLs on configured path-style hosts (Azurite). */
export function isBlobHttpUrl(url: URL, settings: BlobUrlSettings): boolean {
  if (url.protocol !== "https:" && url.protocol !== "http:") return false;
  if (settings.pathStyleHosts.includes(url.host)) return true;
  return url.protocol === "https:" && BLOB_HOST_SUFFIXES.some((suffix) => url.hostname.endsWith(suffix));
}

export function parseBlobUrl(url: URL, settings: BlobUrlSettings): BlobLocation {
  const segments = url.pathname.split("/").slice(1);
  const take = (): string => decodeURIComponent(segments.shift() ?? "");
  if (url.protocol === "az:") {
    const account = decodeURIComponent(url.hostname);
    if (!/^[a-z0-9]{3,24}$/.test(account)) throw new ProviderError("invalid", `${redactUrl(url)}: "${account}" is not a storage account name`);
    const container = take();
    return checked(url, { endpoint: settings.endpointTemplate.replaceAll("{account}", account), account, container, blobPath: rest(segments), sas: "", auth: "identity" });
  }
  const pathStyle = settings.pathStyleHosts.includes(url.host) || net.isIP(url.hostname.replace(/^\[|\]$/g, "")) !== 0;
  const account = pathStyle ? take() : (url.hostname.split(".")[0] ?? "");
  const endpoint = pathStyle ? `${url.origin}/${account}` : url.origin;
  const container = take();
  const hasSas = url.searchParams.has("sig");
  const auth = !hasSas && settings.identityForUrlsWithoutSas === true ? "identity" : "sas-or-anonymous";
  return checked(url, { endpoint, account, container, blobPath: rest(segments), sas: hasSas ? url.search : "", auth });
}

function rest(segments: string[]): string {
  return segments.map((segment) => decodeURIComponent(segment)).join("/");
}

function checked(url: URL, location: BlobLocation): BlobLocation {
  if (!/^(\$root|\$web|[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62})$/.test(location.container)) {
    throw new ProviderError("invalid", `${redactUrl(url)}: "${location.container}" is not a blob container name`);
  }
  return location;
}
