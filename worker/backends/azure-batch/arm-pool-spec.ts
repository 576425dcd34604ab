import type { Pool as ArmPool, StartTask as ArmStartTask, UserIdentity as ArmUserIdentity } from "@azure/arm-batch";
import type { BatchServiceModels } from "@azure/batch";
import type { AzureBatchConfig } from "../../../src/config/azure-batch.js";
import { poolAddParameter, type PoolPlan } from "./batch-specs.js";

/**
 * The ARM form (Microsoft.Batch/batchAccounts/pools, @azure/arm-batch) of the pool batch-specs.ts
 * builds for the data plane, plus what only ARM can set: the pool's user-assigned identities
 * (shared/notes/AZURE-BATCH.md §5 "Identity for ACR"). One builder, two wire forms: this file only
 * renames and regroups (deploymentConfiguration, scaleSettings, PascalCase enums), and refuses any
 * data-plane property it does not know how to carry, so the two forms cannot drift apart silently.
 */
export function armPoolParameters(config: AzureBatchConfig, plan: PoolPlan, createdAt = new Date()): ArmPool {
  const { id: _id, displayName, vmSize, virtualMachineConfiguration, enableAutoScale, autoScaleFormula, autoScaleEvaluationInterval, taskSlotsPerNode, metadata, startTask, targetNodeCommunicationMode, ...rest } =
    poolAddParameter(config, plan, createdAt);
  const unknown = Object.keys(rest).filter((key) => (rest as Record<string, unknown>)[key] !== undefined);
  if (unknown.length > 0) throw new Error(`arm-pool-spec.ts does not carry the pool properties ${unknown.join(", ")} to ARM`);
  if (virtualMachineConfiguration === undefined) throw new Error("a pool without virtualMachineConfiguration has no ARM form here");
  if (enableAutoScale !== true || autoScaleFormula === undefined) throw new Error("the backend's pools autoscale; a fixed-size pool has no ARM form here");
  const { imageReference, nodeAgentSKUId, containerConfiguration, ...vmRest } = virtualMachineConfiguration;
  if (Object.values(vmRest).some((value) => value !== undefined)) throw new Error(`arm-pool-spec.ts does not carry virtualMachineConfiguration.${Object.keys(vmRest).join(", ")} to ARM`);
  const pool: ArmPool = {
    ...(displayName === undefined ? {} : { displayName }),
    ...(vmSize === undefined ? {} : { vmSize }),
    deploymentConfiguration: {
      virtualMachineConfiguration: {
        imageReference,
        nodeAgentSkuId: nodeAgentSKUId,
        ...(containerConfiguration === undefined
          ? {}
          : {
              containerConfiguration: {
                type: "DockerCompatible",
                ...(containerConfiguration.containerImageNames === undefined ? {} : { containerImageNames: containerConfiguration.containerImageNames }),
                ...(containerConfiguration.containerRegistries === undefined
                  ? {}
                  : {
                      containerRegistries: containerConfiguration.containerRegistries.map((registry) =>
                        registry.identityReference !== undefined
                          ? { registryServer: registry.registryServer, identityReference: { resourceId: registry.identityReference.resourceId } }
                          : { registryServer: registry.registryServer, userName: registry.userName, password: registry.password },
                      ),
                    }),
              },
            }),
      },
    },
    scaleSettings: { autoScale: { formula: autoScaleFormula, ...(autoScaleEvaluationInterval === undefined ? {} : { evaluationInterval: autoScaleEvaluationInterval }) } },
    ...(taskSlotsPerNode === undefined ? {} : { taskSlotsPerNode }),
    ...(metadata === undefined ? {} : { metadata: metadata.map(({ name, value }) => ({ name, value })) }),
    ...(startTask === undefined ? {} : { startTask: armStartTask(startTask) }),
    ...(targetNodeCommunicationMode === undefined ? {} : { targetNodeCommunicationMode: pascal(targetNodeCommunicationMode) as ArmPool["targetNodeCommunicationMode"] }),
  };
  if (plan.identities.length > 0) {
    pool.identity = { type: "UserAssigned", userAssignedIdentities: Object.fromEntries(plan.identities.map((id) => [id, {}])) };
  }
  return pool;
}

/** ARM spells the data plane's camelCase enum values in PascalCase (pool → Pool, admin → Admin). */
function pascal(value: string): string {
  return value.charAt(0).toUpperCase() + value.slice(1);
}

function armStartTask(task: BatchServiceModels.StartTask): ArmStartTask {
  const { commandLine, waitForSuccess, maxTaskRetryCount, userIdentity, environmentSettings, containerSettings, resourceFiles } = task;
  if (containerSettings !== undefined || (resourceFiles !== undefined && resourceFiles.length > 0)) {
    throw new Error("arm-pool-spec.ts does not carry a start task's containerSettings or resourceFiles to ARM");
  }
  return {
    commandLine,
    ...(waitForSuccess === undefined ? {} : { waitForSuccess }),
    ...(maxTaskRetryCount === undefined ? {} : { maxTaskRetryCount }),
    ...(environmentSettings === undefined ? {} : { environmentSettings: environmentSettings.map(({ name, value }) => ({ name, value })) }),
    ...(userIdentity === undefined ? {} : { userIdentity: armUserIdentity(userIdentity) }),
  };
}

function armUserIdentity(identity: BatchServiceModels.UserIdentity): ArmUserIdentity {
  if (identity.autoUser === undefined) return { userName: identity.userName };
  const { scope, elevationLevel } = identity.autoUser;
  return {
    autoUser: {
      ...(scope === undefined ? {} : { scope: pascal(scope) as "Task" | "Pool" }),
      ...(elevationLevel === undefined ? {} : { elevationLevel: elevationLevel === "nonadmin" ? "NonAdmin" : "Admin" }),
    },
  };
}
