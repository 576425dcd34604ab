import type { TaskStore } from "../../store/task-store.js";

/** The real store with some methods replaced, to inject races and failures in service tests. */
export function overrideStore(store: TaskStore, overrides: Partial<TaskStore>): TaskStore {
  return {
    migrate: () => store.migrate(),
    insert: (task, owner, traceContext) => store.insert(task, owner, traceContext),
    get: (id, scope) => store.get(id, scope),
    getView: (id, scope, view) => store.getView(id, scope, view),
    list: (query, scope) => store.list(query, scope),
    update: (id, version, change) => store.update(id, version, change),
    findStale: (states, before, limit) => store.findStale(states, before, limit),
    findFollowed: (states, limit) => store.findFollowed(states, limit),
    countByState: (states) => store.countByState(states),
    close: () => store.close(),
    ...overrides,
  };
}
