import { DefaultFailureConverter } from '@temporalio/common';

/**
 * With payload encryption on, a failure's message and stack go into its
 * encoded attributes, so the codec encrypts them too: an error can name a model
 * or quote a figure. Loaded into the workflow bundle (failureConverterPath), so
 * it imports nothing with side effects.
 */
export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
