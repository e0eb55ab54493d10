"""Turns a container of a Deployment in a manifest into `docker run` flags,
the way the kubelet would run it, for the end-to-end tests:

  k8s_container.py MANIFEST DEPLOYMENT CONTAINER VOLUME_DIR [SECRET_KEY=VALUE...]

Prints one JSON object: {"image", "flags": [...], "args": [...],
"probes": {"startup"|"readiness"|"liveness": {...}}, "grace": N}.
ConfigMap volumes (from the same manifest) and Secret volumes (from the
SECRET_KEY=VALUE arguments) are written under VOLUME_DIR in the kubelet's
layout (a timestamped directory, the `..data` link, one link per key) and
bind-mounted read-only; emptyDir and PVC volumes become tmpfs mounts owned
by the pod's fsGroup; securityContext becomes --user, --read-only,
--cap-drop, no-new-privileges; limits.memory becomes --memory."""
import json
import os
import sys

import yaml


def kubelet_dir(root, name, data, mode):
    d = os.path.join(root, name)
    stamp = os.path.join(d, "..2026_11_28_00_00_00.000000001")
    os.makedirs(stamp)
    for key, value in data.items():
        path = os.path.join(stamp, key)
        with open(path, "w") as f:
            f.write(value)
        os.chmod(path, mode)
    os.symlink(os.path.basename(stamp), os.path.join(d, "..data"))
    for key in data:
        os.symlink(os.path.join("..data", key), os.path.join(d, key))
    os.chmod(stamp, 0o755)
    os.chmod(d, 0o755)
    return d


def main():
    manifest, deployment, container, root = sys.argv[1:5]
    secret = dict(a.split("=", 1) for a in sys.argv[5:])
    docs = [d for d in yaml.safe_load_all(open(manifest)) if d]
    configmaps = {d["metadata"]["name"]: d.get("data", {}) for d in docs if d["kind"] == "ConfigMap"}
    dep = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == deployment)
    pod = dep["spec"]["template"]["spec"]
    c = next(x for x in pod["containers"] if x["name"] == container)
    psc, csc = pod.get("securityContext", {}), c.get("securityContext", {})
    uid = csc.get("runAsUser", psc.get("runAsUser", 0))
    gid = csc.get("runAsGroup", psc.get("runAsGroup", 0))
    fs_group = psc.get("fsGroup", gid)
    flags = ["--user", f"{uid}:{gid}"]
    if csc.get("readOnlyRootFilesystem"):
        flags.append("--read-only")
    if "ALL" in csc.get("capabilities", {}).get("drop", []):
        flags += ["--cap-drop", "ALL"]
    if csc.get("allowPrivilegeEscalation") is False:
        flags += ["--security-opt", "no-new-privileges"]
    memory = c.get("resources", {}).get("limits", {}).get("memory")
    if memory:
        flags += ["--memory", memory.replace("Gi", "g").replace("Mi", "m")]
    for e in c.get("env", []):
        flags += ["-e", f"{e['name']}={e['value']}"]
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    for m in c.get("volumeMounts", []):
        v = volumes[m["name"]]
        target = m["mountPath"]
        if "configMap" in v:
            src = kubelet_dir(root, m["name"], configmaps[v["configMap"]["name"]], 0o644)
            flags += ["-v", f"{src}:{target}:ro"]
        elif "secret" in v:
            src = kubelet_dir(root, m["name"], secret, 0o644)
            flags += ["-v", f"{src}:{target}:ro"]
        else:  # emptyDir, persistentVolumeClaim
            flags += ["--tmpfs", f"{target}:uid={uid},gid={fs_group}"]
    probes = {k[: -len("Probe")]: c[k] for k in ("startupProbe", "readinessProbe", "livenessProbe") if k in c}
    ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
    for p in probes.values():
        if "httpGet" in p and isinstance(p["httpGet"]["port"], str):
            p["httpGet"]["port"] = ports[p["httpGet"]["port"]]
    print(json.dumps({
        "image": c["image"],
        "flags": flags,
        "args": c.get("args", []),
        "probes": probes,
        "grace": pod.get("terminationGracePeriodSeconds", 30),
    }))


main()
