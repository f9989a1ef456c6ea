/**
 * The default-deny policy for globals imported by pickles. A global is `module.name` (name may
 * be a dotted attribute path). Globals on the allowlist are what model files legitimately
 * import; the denylist names what gives code execution, file, process or network access, and
 * sets the severity; anything else is unknown and counts as dangerous too.
 */

/** Verdict on one imported global. */
export type GlobalVerdict =
  | { verdict: 'allowed' }
  | { verdict: 'denied'; severity: 'critical' | 'high'; reason: string }
  | { verdict: 'unknown'; severity: 'medium'; reason: string };

const TORCH_STORAGES = [
  'FloatStorage', 'DoubleStorage', 'HalfStorage', 'BFloat16Storage', 'LongStorage', 'IntStorage',
  'ShortStorage', 'CharStorage', 'ByteStorage', 'BoolStorage', 'ComplexFloatStorage',
  'ComplexDoubleStorage', 'QInt8Storage', 'QUInt8Storage', 'QInt32Storage', 'QUInt4x2Storage',
  'QUInt2x4Storage', 'UntypedStorage', 'TypedStorage', 'Float8_e4m3fnStorage', 'Float8_e5m2Storage',
];

const TORCH_DTYPES = [
  'float16', 'float32', 'float64', 'bfloat16', 'half', 'float', 'double', 'int8', 'int16', 'int32', 'int64',
  'uint8', 'uint16', 'uint32', 'uint64', 'bool', 'complex64', 'complex128', 'long', 'int', 'short',
  'float8_e4m3fn', 'float8_e5m2', 'qint8', 'quint8', 'qint32', 'strided', 'sparse_coo', 'sparse_csr',
  'channels_last', 'contiguous_format', 'preserve_format',
];

/** Exact `module.name` globals model files legitimately import. */
const ALLOWED_GLOBALS = new Set<string>([
  'collections.OrderedDict',
  'collections.defaultdict',
  'collections.deque',
  'collections.Counter',
  'builtins.set',
  'builtins.frozenset',
  'builtins.slice',
  'builtins.complex',
  'builtins.bytearray',
  'builtins.bytes',
  'builtins.list',
  'builtins.dict',
  'builtins.tuple',
  'builtins.int',
  'builtins.float',
  'builtins.bool',
  'builtins.str',
  'builtins.range',
  'copyreg._reconstructor',
  '_codecs.encode',
  'datetime.datetime',
  'datetime.date',
  'datetime.timedelta',
  'decimal.Decimal',
  'fractions.Fraction',
  'uuid.UUID',
  'pathlib.PosixPath',
  'pathlib.WindowsPath',
  'pathlib.PurePosixPath',
  'pathlib.PureWindowsPath',
  'torch.Size',
  'torch.device',
  'torch._utils._rebuild_tensor',
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_tensor_v3',
  'torch._utils._rebuild_parameter',
  'torch._utils._rebuild_parameter_with_state',
  'torch._utils._rebuild_parameter_v2',
  'torch._utils._rebuild_qtensor',
  'torch._utils._rebuild_sparse_tensor',
  'torch._utils._rebuild_sparse_csr_tensor',
  'torch._utils._rebuild_meta_tensor_no_storage',
  'torch._utils._rebuild_nested_tensor',
  'torch._utils._rebuild_device_tensor_from_numpy',
  'torch._utils._rebuild_device_tensor_from_cpu_tensor',
  'torch._tensor._rebuild_from_type',
  'torch._tensor._rebuild_from_type_v2',
  'torch.nn.parameter.Parameter',
  'torch.nn.parameter.Buffer',
  'torch.tensor',
  'torch.serialization._get_layout',
  ...TORCH_STORAGES.map((s) => `torch.${s}`),
  ...TORCH_STORAGES.map((s) => `torch.storage.${s}`),
  ...TORCH_DTYPES.map((d) => `torch.${d}`),
  'numpy.dtype',
  'numpy.ndarray',
  'numpy.core.multiarray._reconstruct',
  'numpy.core.multiarray.scalar',
  'numpy._core.multiarray._reconstruct',
  'numpy._core.multiarray.scalar',
  'numpy.dtypes.Float64DType',
  'numpy.dtypes.Float32DType',
  'numpy.dtypes.Float16DType',
  'numpy.dtypes.Int64DType',
  'numpy.dtypes.Int32DType',
  'numpy.dtypes.Int16DType',
  'numpy.dtypes.Int8DType',
  'numpy.dtypes.UInt8DType',
  'numpy.dtypes.BoolDType',
  'numpy.random._pickle.__randomstate_ctor',
  'numpy.random._pickle.__bit_generator_ctor',
  'numpy.random._pickle.__generator_ctor',
  'numpy.random.mtrand._rand',
  'joblib.numpy_pickle.NumpyArrayWrapper',
  'scipy.sparse._csr.csr_matrix',
  'scipy.sparse._csc.csc_matrix',
  'scipy.sparse._coo.coo_matrix',
  'scipy.sparse.csr.csr_matrix',
  'scipy.sparse.csc.csc_matrix',
]);

/**
 * Module prefixes whose *classes* (a name that starts with an upper-case letter and has no
 * dotted attribute path) model files legitimately import: estimators and layers, which the
 * unpickler instantiates without calling arbitrary functions.
 */
const ALLOWED_CLASS_MODULE_PREFIXES = ['sklearn.', 'torch.nn.modules.', 'xgboost.', 'lightgbm.', 'catboost.'];

/** Modules (and their submodules) whose every global is denied: code execution, processes, files, network. */
const DENIED_MODULES: Record<string, 'critical' | 'high'> = {
  os: 'critical',
  posix: 'critical',
  nt: 'critical',
  subprocess: 'critical',
  socket: 'critical',
  runpy: 'critical',
  shutil: 'critical',
  webbrowser: 'critical',
  sys: 'critical',
  pty: 'critical',
  ctypes: 'critical',
  importlib: 'critical',
  pickle: 'critical',
  _pickle: 'critical',
  marshal: 'critical',
  code: 'critical',
  codeop: 'critical',
  commands: 'critical',
  multiprocessing: 'critical',
  asyncio: 'critical',
  pdb: 'critical',
  bdb: 'critical',
  timeit: 'critical',
  trace: 'critical',
  profile: 'critical',
  cProfile: 'critical',
  pydoc: 'critical',
  pip: 'critical',
  setuptools: 'critical',
  distutils: 'critical',
  _posixsubprocess: 'critical',
  signal: 'high',
  tempfile: 'high',
  glob: 'high',
  io: 'high',
  _io: 'high',
  urllib: 'high',
  urllib2: 'high',
  http: 'high',
  httplib: 'high',
  requests: 'high',
  aiohttp: 'high',
  ftplib: 'high',
  smtplib: 'high',
  telnetlib: 'high',
  ssl: 'high',
  select: 'high',
  selectors: 'high',
  threading: 'high',
  _thread: 'high',
  zipimport: 'high',
  pkgutil: 'high',
  inspect: 'high',
  gc: 'high',
  dill: 'critical',
  cloudpickle: 'critical',
  'torch.hub': 'critical',
  'torch.jit': 'high',
  'torch.utils.cpp_extension': 'critical',
  'torch._inductor': 'critical',
  'torch._dynamo': 'high',
  'torch.distributed': 'high',
  'numpy.testing': 'critical',
  'numpy.f2py': 'critical',
  'numpy.distutils': 'critical',
  'numpy.lib.npyio': 'high',
  'pandas.io': 'high',
  'keras.utils': 'high',
  'tensorflow.io': 'high',
};

/** Specific callables that give code execution or arbitrary attribute access. */
const DENIED_NAMES: Record<string, Record<string, 'critical' | 'high'>> = {
  builtins: {
    eval: 'critical', exec: 'critical', compile: 'critical', getattr: 'critical', setattr: 'critical',
    delattr: 'critical', open: 'critical', __import__: 'critical', input: 'high', breakpoint: 'critical',
    globals: 'critical', locals: 'critical', vars: 'critical', type: 'high', memoryview: 'high',
    exit: 'high', quit: 'high', help: 'high', object: 'high', classmethod: 'high', staticmethod: 'high',
    property: 'high', super: 'high', print: 'high', dir: 'high', map: 'high', filter: 'high',
  },
  operator: { attrgetter: 'critical', methodcaller: 'critical', itemgetter: 'high', call: 'critical' },
  functools: { partial: 'critical', reduce: 'critical', partialmethod: 'critical' },
  types: { CodeType: 'critical', FunctionType: 'critical', MethodType: 'critical', ModuleType: 'critical', LambdaType: 'critical' },
  torch: { load: 'critical', save: 'high', from_file: 'high' },
  'torch.serialization': { load: 'critical', _load: 'critical', save: 'high' },
  'torch.storage': { _load_from_bytes: 'high' },
  numpy: { load: 'high', save: 'high', fromfile: 'high', loadtxt: 'high', genfromtxt: 'high', memmap: 'high' },
  joblib: { load: 'critical' },
  yaml: { load: 'critical', unsafe_load: 'critical', full_load: 'high' },
};

/** Attribute-path segments that reach into interpreter internals. */
const DANGEROUS_SEGMENT = /^(__globals__|__builtins__|__subclasses__|__code__|__class__|__bases__|__mro__|__dict__|__getattribute__|__reduce__|__reduce_ex__|__init_subclass__|__loader__|__spec__|func_globals)$/;

/** True when `pattern` (exact `module.name`, or `prefix.*`) covers `qualified`. */
function matchesPattern(pattern: string, qualified: string): boolean {
  if (pattern.endsWith('.*')) return qualified.startsWith(pattern.slice(0, -1));
  return pattern === qualified;
}

/**
 * Classifies one imported global. `extraAllowed` holds policy additions (`module.name` or
 * `module.*`); the denylist wins over them for the modules that give code execution.
 */
export function classifyGlobal(module: string, name: string, extraAllowed: readonly string[] = []): GlobalVerdict {
  const qualified = `${module}.${name}`;
  const segments = name.split('.');
  if (segments.some((s) => DANGEROUS_SEGMENT.test(s)) || name.includes('<locals>')) {
    return { verdict: 'denied', severity: 'critical', reason: 'reaches interpreter internals through a dunder attribute path' };
  }
  const moduleParts = module.split('.');
  for (let i = moduleParts.length; i >= 1; i--) {
    const prefix = moduleParts.slice(0, i).join('.');
    const severity = DENIED_MODULES[prefix];
    if (severity) return { verdict: 'denied', severity, reason: `module '${prefix}' gives code execution, process, file or network access` };
  }
  const deniedName = DENIED_NAMES[module]?.[segments[0]!];
  if (deniedName) {
    return { verdict: 'denied', severity: deniedName, reason: `'${module}.${segments[0]}' can run code or reach arbitrary objects` };
  }
  if (ALLOWED_GLOBALS.has(qualified)) return { verdict: 'allowed' };
  if (segments.length === 1 && /^[A-Z]/.test(name) && ALLOWED_CLASS_MODULE_PREFIXES.some((p) => module.startsWith(p) || `${module}.` === p)) {
    return { verdict: 'allowed' };
  }
  if (extraAllowed.some((pattern) => matchesPattern(pattern, qualified))) return { verdict: 'allowed' };
  return { verdict: 'unknown', severity: 'medium', reason: 'not on the allowlist of globals model files import (default deny)' };
}
