import { defineSearchAttributeKey } from '@temporalio/common';

/**
 * The factory's custom search attributes: registered on the dev server at start
 * (and on a cluster by stack/temporal-namespace.ts), set by the workflows, and
 * usable as filters in the Web UI, e.g. `FactoryModel="credit-default" AND FactoryStage="awaiting-approval"`.
 */
export const SEARCH_ATTRIBUTES = {
  FactoryModel: defineSearchAttributeKey('FactoryModel', 'KEYWORD'),
  FactoryStage: defineSearchAttributeKey('FactoryStage', 'KEYWORD'),
  FactoryTrigger: defineSearchAttributeKey('FactoryTrigger', 'KEYWORD'),
  FactoryCandidateVersion: defineSearchAttributeKey('FactoryCandidateVersion', 'INT'),
  /** Who a pipeline at its approval gate still waits for, e.g. `FactoryAwaitingApproval="alice"`; empty once decided. */
  FactoryAwaitingApproval: defineSearchAttributeKey('FactoryAwaitingApproval', 'KEYWORD_LIST'),
} as const;

/** The CLI's spelling of each type, for `temporal server start-dev --search-attribute NAME=Type`. */
export const SEARCH_ATTRIBUTE_CLI_TYPES: Record<keyof typeof SEARCH_ATTRIBUTES, 'Keyword' | 'Int' | 'KeywordList'> = {
  FactoryModel: 'Keyword',
  FactoryStage: 'Keyword',
  FactoryTrigger: 'Keyword',
  FactoryCandidateVersion: 'Int',
  FactoryAwaitingApproval: 'KeywordList',
};
