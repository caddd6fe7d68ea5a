/**
 * The cluster's certificate authority and certificates, made with openssl: ECDSA P-256 keys, one
 * CA, a serving certificate for the apiserver, client certificates per component, and the
 * service-account signing key.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../runtime/exec.ts';

/** A certificate and its key on disk. */
export interface CertFiles {
  cert: string;
  key: string;
}

/** Every credential a cluster's control plane uses. */
export interface ClusterPki {
  ca: CertFiles;
  apiserver: CertFiles;
  admin: CertFiles;
  controllerManager: CertFiles;
  scheduler: CertFiles;
  /** What the apiserver presents to kubelets (logs, exec, port-forward). */
  kubeletClient: CertFiles;
  /** Service-account signing key (private) and its public half. */
  serviceAccountKey: string;
  serviceAccountPub: string;
}

const CONFIG = `[req]
distinguished_name = dn
prompt = no
[dn]
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
[server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = $ENV::CILIATE_SAN
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
`;

async function newKey(path: string): Promise<void> {
  await run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path]);
}

/** Where the certificates of a cluster whose pki folder is `dir` live. */
export function pkiFiles(dir: string): ClusterPki {
  const pair = (n: string): CertFiles => ({ cert: join(dir, `${n}.crt`), key: join(dir, `${n}.key`) });
  return {
    ca: pair('ca'),
    apiserver: pair('apiserver'),
    admin: pair('admin'),
    controllerManager: pair('controller-manager'),
    scheduler: pair('scheduler'),
    kubeletClient: pair('apiserver-kubelet-client'),
    serviceAccountKey: join(dir, 'sa.key'),
    serviceAccountPub: join(dir, 'sa.pub'),
  };
}

/** Issues a certificate signed by the CA in `dir` for `subject`, as a server or client certificate. */
export async function issueCertificate(
  dir: string, name: string, subject: string, profile: 'server' | 'client', san = '',
): Promise<CertFiles> {
  const p = pkiFiles(dir);
  const out: CertFiles = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  await newKey(out.key);
  const cfg = join(dir, 'openssl.cnf');
  await run('openssl', [
    'req', '-x509', '-new', '-key', out.key, '-subj', subject, '-CA', p.ca.cert, '-CAkey', p.ca.key,
    '-days', '825', '-config', cfg, '-extensions', profile, '-out', out.cert,
  ], { env: { CILIATE_SAN: san || 'DNS:localhost' } });
  return out;
}

/** Creates the CA and every control-plane credential in `dir`; `sans` go on the apiserver cert. */
export async function createPki(dir: string, apiserverSans: string[]): Promise<ClusterPki> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const p = pkiFiles(dir);
  await writeFile(join(dir, 'openssl.cnf'), CONFIG);
  await newKey(p.ca.key);
  await run('openssl', [
    'req', '-x509', '-new', '-key', p.ca.key, '-subj', '/CN=ciliate-ca', '-days', '3650',
    '-config', join(dir, 'openssl.cnf'), '-extensions', 'ca', '-out', p.ca.cert,
  ], { env: { CILIATE_SAN: 'DNS:localhost' } });
  await issueCertificate(dir, 'apiserver', '/CN=kube-apiserver', 'server', apiserverSans.join(','));
  await issueCertificate(dir, 'admin', '/O=system:masters/CN=kubernetes-admin', 'client');
  await issueCertificate(dir, 'controller-manager', '/CN=system:kube-controller-manager', 'client');
  await issueCertificate(dir, 'scheduler', '/CN=system:kube-scheduler', 'client');
  await issueCertificate(dir, 'apiserver-kubelet-client', '/O=system:masters/CN=kube-apiserver-kubelet-client', 'client');
  await newKey(p.serviceAccountKey);
  await run('openssl', ['pkey', '-in', p.serviceAccountKey, '-pubout', '-out', p.serviceAccountPub]);
  return p;
}

/** A kubeconfig for `user` with embedded certificates, talking to `server`. */
export async function writeKubeconfig(path: string, cluster: string, server: string, ca: string, cred: CertFiles, user: string): Promise<void> {
  const b64 = async (f: string) => (await readFile(f)).toString('base64');
  const text = `apiVersion: v1
kind: Config
clusters:
- name: ${cluster}
  cluster:
    server: ${server}
    certificate-authority-data: ${await b64(ca)}
users:
- name: ${user}
  user:
    client-certificate-data: ${await b64(cred.cert)}
    client-key-data: ${await b64(cred.key)}
contexts:
- name: ${cluster}
  context:
    cluster: ${cluster}
    user: ${user}
current-context: ${cluster}
`;
  await writeFile(path, text, { mode: 0o600 });
}
