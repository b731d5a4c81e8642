/** A small model spec (two features, a 0/1 label, an id column) that unit tests adjust as they need. */
export const toySpec = {
  name: 'toy',
  task: 'binary-classification',
  idColumn: 'id',
  label: 'y',
  features: [
    { name: 'age', type: 'integer', min: 18, max: 120 },
    { name: 'amount', type: 'number' },
  ],
  trainer: { kind: 'logistic-regression' },
  approval: { approvers: ['alice'] },
};
