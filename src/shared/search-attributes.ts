import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * The custom search attributes of a promotion (docs/lifecycle.md). Registered on the
 * server by `temporal/register-search-attributes.sh` from `temporal/search-attributes.txt`;
 * a test keeps the two lists identical.
 */
export const SearchAttributes = {
  ModelName: defineSearchAttributeKey('ModelName', SearchAttributeType.KEYWORD),
  ModelVersion: defineSearchAttributeKey('ModelVersion', SearchAttributeType.KEYWORD),
  TargetEnvironment: defineSearchAttributeKey('TargetEnvironment', SearchAttributeType.KEYWORD),
  RiskTier: defineSearchAttributeKey('RiskTier', SearchAttributeType.KEYWORD),
  PromotionStatus: defineSearchAttributeKey('PromotionStatus', SearchAttributeType.KEYWORD),
  Submitter: defineSearchAttributeKey('Submitter', SearchAttributeType.KEYWORD),
  PendingRoles: defineSearchAttributeKey('PendingRoles', SearchAttributeType.KEYWORD_LIST),
  PendingGates: defineSearchAttributeKey('PendingGates', SearchAttributeType.KEYWORD_LIST),
} as const;
